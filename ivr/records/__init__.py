"""The records: what the hotline keeps between webhooks and after the call.

``database`` (SQLite and PostgreSQL behind one interface, and the numbered migrations),
``store`` (calls, their turns and events, callbacks, the audit log), ``lockouts`` (the
PIN lockout book), ``wallet`` (the demo wallet backend), ``users`` (console users and
agents) with ``pins`` (salted slow hashes), ``notices`` (the incident notices ops
publish), ``live`` (who waits and who is in the IVR now), ``csat`` (the callers'
verdicts after an agent, on the call's row) with ``recordings`` (which recording URLs are
Twilio's), and ``outbox`` (the SMS follow-ups until a sender sends them, and the numbers
that texted STOP). They implement the flow's
protocols (``ivr.flow.services``) and keep its state, so they import the flow's types;
they never import the web edge, the console, the simulator or the CLI.
"""
