"""Feeds for viewers: which works a feed shows, how bursts fold, and the feed routes.

* ``queries``     -- new arrivals, the AI feed and the viewer's ``?ai=`` choice, as
  filters on a host queryset (who may see a work at all is ``moderation.visibility``);
* ``bursts``      -- fold one account's burst of works into one tile; cap AI tiles; one
  page of tiles (``collapse_page``);
* ``cursor``      -- keyset cursors: pages continue after the previous page's last row;
* ``cache``       -- the first page of each feed in Django's cache, dropped on any route
  change;
* ``indexes``     -- whether a model's feed ordering has an index (system check W040);
* ``routing``     -- ``FeedReplicaRouter``: feed reads from a read replica;
* ``quota``       -- the per-account daily limit on AI uploads, checked by the upload form;
* ``syndication`` -- RSS 2.0 and Atom feeds of new arrivals and of the AI feed;
* ``sitemaps``    -- a sitemap of the works anyone may see;
* ``views``/``urls`` -- the viewer's preference view and :func:`urls.feed_urls`, which
  mounts it and the feeds.
"""
