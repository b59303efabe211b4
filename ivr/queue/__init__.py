"""The queue model: Erlang maths, the centre's week, and advice on when to call.

- ``erlang``, ``simulate``: pure maths (Erlang C/A, staffing, live wait; a checking
  simulation).
- ``calendar``, ``traffic``: the ops-edited week in ``ivr/data/traffic.yaml``.
- ``advice``: the API the call flow uses (``Centre``, which the flow knows only as the
  ``QueueModel`` protocol); ``forecast`` (from the recorded calls) and ``plot`` feed ops.

It reads the menu's YAML helpers and the records' database (for the forecast); it never
imports the flow, the web edge, the console, the simulator or the CLI.
"""
