"""Show the code: the plain-Python program that does what an endpoint or a download does."""
