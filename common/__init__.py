"""What every Geoshard process speaks: identities, signed wire messages, and the long-tail fan-out."""
