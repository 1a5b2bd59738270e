#!/usr/bin/env bash
# Runs tessel.paged_attention and tessel.paged_kv_append on the CPU: the kernel templates compiled as
# C++ over shim.h (one std::thread per CUDA thread, std::barrier for __syncthreads and warp shuffles,
# f16/bf16 conversions in software) and checked against a double-precision reference: appended
# slots bit for bit (the rest of the pool untouched), attention within 2e-3 (f16) / 8e-3 (bf16), and the append fused
# into the attention kernel (each sequence's last token) bit for bit the output and pools of append then attention.
# A developer check for machines without a GPU (not run by CI; ~10 s a configuration on 2 cores);
# it says nothing of speed, and memory ordering on a real GPU is not emulated.
# Usage: runtime/src/test/cuda-emu/run.sh   (needs g++ with C++20)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernels=$here/../../main/resources/org/tessel/runtime/gpu/kernels
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e 's/extern __shared__ __align__(16) float pa_smem\[\];/float* pa_smem = g_dyn;/' \
    -e 's/extern __shared__ float pa_weights\[\];/float* pa_weights = g_dyn;/' "$kernels/paged_attention.cu" > "$work/kernel_host.cu"
cp "$kernels/paged_kv_append.cu" "$work/append_host.cu"
cp "$here/shim.h" "$here/paged_attention_emu.cpp" "$work/"
fail=0
# head_dim, heads per block, bf16, heads, kv heads, block size, partition size, short contexts only (one partition)
while read -r d hpb bf h kvh bs part short; do
    g++ -std=c++20 -O1 -pthread -DHEAD_DIM=$d -DHPB=$hpb -DPA_BF16=$bf -DHEADS=$h -DKVH=$kvh -DBS=$bs -DPART=$part -DSHORT_ONLY=$short \
        -o "$work/emu" "$work/paged_attention_emu.cpp"
    "$work/emu" || { echo "FAILED: d=$d hpb=$hpb bf16=$bf heads=$h/$kvh bs=$bs partition=$part"; fail=1; }
done <<'CONFIGS'
64 4 0 8 2 16 64 0
64 4 1 8 2 16 512 0
64 4 0 8 2 16 512 1
128 1 1 4 4 32 512 0
32 3 0 6 2 16 128 0
256 8 1 8 1 32 256 0
16 2 0 4 2 7 64 0
64 4 0 8 2 1 128 0
64 4 0 8 2 48 256 0
CONFIGS
exit $fail
