"""Similar works and variation sets, from the classifier's pooled embedding.

* :mod:`.vectors` packs an embedding into the compact bytes a
  :class:`~moderation.models.WorkEmbedding` stores (float16).
* :mod:`.index` keeps a FAISS inner-product index of every stored embedding (cosine
  similarity of L2-normalised vectors), per process, synced from the table.
* :mod:`.matching` finds another account's work too close to a new upload: the case is
  sent to review, never labelled.
* :mod:`.variations` groups one account's recent uploads into sets of near-identical
  works (embedding distance, and PDQ distance when the caller has hashes): a set is one
  tile in feeds, and a large set is a weak AI-flood signal that raises review priority.
* :mod:`.signals` is what the pipeline calls after the detectors: store the embedding,
  then return the evidence both checks found.
"""
