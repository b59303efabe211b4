"""The queue model: Erlang maths, the centre's week, and advice on when to call.

- ``erlang``, ``simulate``: pure maths (Erlang C/A, staffing, live wait; a checking
  simulation).
- ``calendar``, ``traffic``: the ops-edited week in ``ivr/data/traffic.yaml``.
- ``advice``: the API the call flow uses (``Centre``); ``forecast`` and ``plot`` feed ops.
- ``commands``: the ``erlang``, ``advise`` and ``forecast`` CLI commands.
"""
