print("Content-Type: text/plain\n")
print("bom ok")
