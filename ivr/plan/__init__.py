"""A day (or a week) of the whole centre: callers through the real tree into staffed
queues (``ivr plan``). Pure: no click, no Flask; files only through the loaders the
command calls."""
