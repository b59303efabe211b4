"""The Twilio edge: HTTP in, TwiML out.

The webhooks Twilio calls (``webhooks``: ``/voice`` for callers, ``agents``: ``/agent/voice``
for agents), their signature check (``signature``), the request-size limit (``limits``),
TwiML rendered from the flow's ``Step`` (``twiml``, the only importer of ``twilio.twiml``),
the production server (``server``, gunicorn), the SMS webhooks (``sms``: status callbacks,
STOP) and the SMS sender (``sender``, the only user of Twilio's REST client). The only room that reads
``flask.request`` for a call; the flow it drives knows nothing of HTTP. It imports the
composition root (``ivr.hotline``), the flow and the records below it, and never imports
the console, the simulator or the CLI.
"""
