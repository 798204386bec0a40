"""The bottom layer: errors, the event schema, paths, time windows, sources, redaction, markup, process
helpers and the extension registries. It imports nothing else of the library.
"""
