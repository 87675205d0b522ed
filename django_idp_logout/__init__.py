"""OpenID Connect login and logout for Django that ends the session at the provider too.

Importing this package reads no settings and touches no network: everything happens in
``apps.IdPLogoutConfig.ready()`` and at request time.
"""

__version__ = "0.1.0"
