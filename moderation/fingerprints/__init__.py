"""Perceptual fingerprints (PDQ) of every upload and the hash banks they are matched
against: the site's published works, works moderators removed and works creators
protect. See :mod:`moderation.fingerprints.matching` for the scan step."""
