"""Word lists the tweet normaliser reads, kept as Python constants.

They are Python rather than JSON so that they ship in every wheel and Function App package without
package-data configuration, and cost no I/O at import. Editing any of them changes the
normaliser's output: bump `shared.normalise.NORMALISER_VERSION` in the same change.
"""
