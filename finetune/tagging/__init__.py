"""From entities at character offsets to labelled subword windows and back: `labels` (BIO/BIOES word
labels, subword alignment), `windows` (long documents as overlapping windows), `decoding` (constrained
Viterbi decoding back to character offsets)."""
