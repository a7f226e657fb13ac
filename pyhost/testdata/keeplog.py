import os
import keeploghelper
keeploghelper.log.write("request\n")
keeploghelper.logger.warning("logged")
print("Content-Type: text/plain\n")
print(keeploghelper.imports, len(keeploghelper.logger.handlers))
