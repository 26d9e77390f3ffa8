"""Server-rendered moderator pages (queue, case, accuracy) and the uploader's appeal page."""
