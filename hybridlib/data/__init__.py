"""Dataset readers (LSP, LSP extended, UP-S1h, MoSh/AMASS) and, later, transforms and the generator."""
