"""The pure call flow: what the caller hears next, decided from what they did.

``caller.step(menu, state, event, services) -> Step`` walks one caller through the tree;
``agent`` does the same for an agent taking a caller. ``call`` holds the call's types
(state, event, step, utterance), ``services`` the outside world the flow needs as
protocols (wallet, lockout book, queue model, SMS outbox), ``texts`` which SMS
follow-ups a call writes, ``speech`` matches what a caller said to
the tree, ``spoken`` says numbers, dates and waits, ``hours`` whether agents answer now
(so a caller hears a team is away before any effort for it), ``prompts`` is the prompt
catalog, ``notices`` what an incident notice is and where it is said, ``survey`` the
caller's verdict once an agent hung up (CSAT), and ``gather`` what Twilio documents of
``<Gather>``.

Pure: it never imports Flask, the Twilio library, a database driver, pydub, click or any
room but the menu and the shared helpers at the top of ``ivr``; the rooms above import it.
"""
