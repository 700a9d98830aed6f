"""The authors' loss weights (their TF2 code): L_comb = 60·L_kpr + 0.001·L_mr + 0.01·L_adv.
The validation losses of Tables 1 and 2 are the first two terms with these weights."""

from __future__ import annotations

W_KPR = 60.0
W_MR = 0.001
W_CRITIC = 0.01
