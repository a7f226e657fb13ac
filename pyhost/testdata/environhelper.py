import os
ENV = os.environ
