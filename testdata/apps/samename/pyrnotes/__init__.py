"""A package named like the Pyramid application's (../../pyrsite), in
another tree: a script importing it must get this one, even in an
interpreter where Pyramid holds the other."""
WHO = "the samename tree"
