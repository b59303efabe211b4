"""Tuning the menu tree from what callers did: ``ivr report`` (what callers did, from the
call records), ``ivr graph`` (the tree as a picture), ``ivr tune`` (what-if runs of whole
calls through the real call flow, and the option order that saves the most time).

It reads the tree, runs the pure flow, and reads the records and the queue model; it
never imports the Twilio edge, the simulator or the CLI (its commands are
``ivr.cli.report``, ``ivr.cli.graph`` and ``ivr.cli.tune``).
"""
