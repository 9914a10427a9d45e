"""CORS for browsers: bucket rules (Put/Get/DeleteBucketCors), preflights, headers on responses.

:mod:`.rules` is the pure part (documents, matching); :mod:`.middleware` answers preflights
and puts the headers on actual responses (imported by :mod:`gateway.app`).
"""

from gateway.cors.rules import CorsRule, cors_configuration, match, parse_cors_configuration, rules_from_json

__all__ = ["CorsRule", "cors_configuration", "match", "parse_cors_configuration", "rules_from_json"]
