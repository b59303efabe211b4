"""ivr: the phone hotline of a digital wallet, answering a Twilio number with TwiML."""

from ivr.app import create_app

__all__ = ["create_app"]
