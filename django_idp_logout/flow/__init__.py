"""The relying party's decisions, in one place: begin and complete a sign-in, end a session
(what to revoke, what to flush, where to send the browser), end the sessions a provider's
logout request names. Views are HTTP adapters around these functions; they hold no protocol
rule.
"""

from .provider_logout import (
    EndedSessions,
    FrontchannelOutcome,
    end_sessions_for_frontchannel,
    end_sessions_for_token,
)
from .signin import MAX_PARAM_LENGTH, SignInOutcome, begin_sign_in, complete_sign_in
from .signout import complete_sign_out, local_logout, sign_out

__all__ = [
    "MAX_PARAM_LENGTH", "EndedSessions", "FrontchannelOutcome", "SignInOutcome",
    "begin_sign_in", "complete_sign_in", "complete_sign_out", "end_sessions_for_frontchannel",
    "end_sessions_for_token", "local_logout", "sign_out",
]
