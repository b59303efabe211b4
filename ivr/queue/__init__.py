"""The queue model: Erlang maths, the centre's week, and advice on when to call.

``erlang`` and ``simulate`` are pure maths; ``traffic`` reads the ops-edited week;
``advice`` answers the call flow's questions; ``commands`` holds the CLI commands.
"""
