"""Validation: loading, the schema, the rules (see engine.py).

``ONE_SHOT_PROCESS`` is set by the command-line entry point: the process ends with the command,
so that what validation builds may be kept out of the garbage collector's later passes (see
:func:`ainas_provision.validation.engine.gc_paused`). Kept here, in a module that imports
nothing, so that setting it costs the start-up nothing.
"""

ONE_SHOT_PROCESS = False
