"""A day (or a week) of the whole centre, ``ivr plan``: callers through the real tree
into staffed queues, and the staffing that meets a target.

- ``arrivals``: who calls when (the traffic week, the calendar and the mix; thinned
  Poisson); ``walks``: how the tree ends their calls (pools of ``ivr tune``'s walks).
- ``centre``: the discrete-event simulation of the queues (FIFO, patience, callbacks
  made in the window the advice gives, retrials); ``skills``: the queues whose agents are
  shared (groups, a priority order), event by event; ``scenario``: the three put
  together, run on any seed.
- ``staffing`` (agents from the traffic file, a plan file, Erlang A) and ``search``
  (the fewest agents meeting a target in the simulation).
- ``inputs`` reads the files a day is made from and builds its scenario, for the
  command and the console's Plan page alike.
- ``figures`` computes what a run shows; ``report`` renders it as text, JSON and CSV,
  ``picture`` draws it.

It reads the tree, the mix and the tuning's simulator, and the queue model; it never
imports the Twilio edge, the console, the simulator or the CLI (its command is
``ivr.cli.plan``), and no I/O happens here but reading the files it is given.
"""
