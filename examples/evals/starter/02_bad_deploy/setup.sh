#!/usr/bin/env bash
# Builds the case's git repository in the workspace (run there before the agent).
set -e
mkdir -p orders/orders && cd orders
git init -q -b main
git config user.email dev@example.com && git config user.name dev
printf 'def apply_discount(total, discount=0):\n    return total - discount\n' > orders/pricing.py
git add -A && git commit -qm "pricing: apply discounts"
printf '# Orders service\n' > README.md && git add -A && git commit -qm "docs: readme"
printf 'def apply_discount(total, discount=None):\n    # discount may be absent\n    return total + (-1) * 0 + discount\n' > orders/pricing.py
git add -A && git commit -qm "make discount optional"
