HELPER = "halfpkg.helper"
