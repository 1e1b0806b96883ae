"""The command line: thin click commands over library functions."""
