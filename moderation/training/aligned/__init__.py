"""Aligned training pairs for the trace detector.

Every hand-made crop gets an AI twin made by a generator's decoder or upsampler, so the
two classes differ only in the traces those networks leave, never in content or style.
"""
