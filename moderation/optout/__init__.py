"""Training opt-out: one reservation per work (work override > creator > site default),
emitted in every signal AI crawlers read.

* ``policy``      -- resolve a work's reservation, in bulk for listings and robots.txt;
* ``xmp``         -- the XMP rights packet (PLUS ``DataMining``) embedded in derivatives;
* ``derivatives`` -- thumbnails/previews written with Pillow, metadata stripped, XMP added;
* ``crawlers``    -- recognise AI crawlers by user agent and log their fetches;
* ``middleware``  -- ``X-Robots-Tag`` and TDMRep headers on pages;
* ``views``/``urls`` -- robots.txt, ai.txt, /.well-known/tdmrep.json, media and thumbnails;
* ``forms``, ``creator_views``/``creator_urls`` -- the creator's own choice, for all their
  works or one work;
* ``overview``    -- everything the creator's page shows, in one call.
"""
