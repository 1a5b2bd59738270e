// Host emulation driver of tessel.paged_attention / tessel.paged_kv_append (see run.sh): contexts 0, 1, 17, 300, 1000
// (or short ones only), scattered blocks, tokens written by the append kernel, attention vs a double reference; then
// the append fused into the attention kernel (each sequence's last token) vs append then attention, bit for bit.
#include "shim.h"
#define PA_BLOCK_SIZE BS
#include <cstdio>
#include <random>
#include "kernel_host.cu" // paged_attention.cu with its extern shared arrays pointed at g_dyn (run.sh)
#include "append_host.cu"

static unsigned short enc(float f) { return PA_BF16 ? tessel_f2bf(f) : tessel_f2h(f); }
static float dec(unsigned short h) { return PA_BF16 ? tessel_bf2f(h) : tessel_h2f(h); }

int main(int argc, char** argv) {
    const int heads = HEADS, kvh = KVH, hd = HEAD_DIM, bs = BS, part = PART;
    std::vector<int> lens = {0, 1, 17, 300, 1000};
    if (SHORT_ONLY) lens = {0, 1, 17, 300, 5};
    int batch = lens.size();
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> U(-1, 1);
    std::normal_distribution<float> N(0, 1.5);
    // blocks handed out round robin
    std::vector<std::vector<int>> tables(batch);
    int next = 0, maxlen = 0;
    for (int l : lens) maxlen = std::max(maxlen, l);
    for (int at = 0; at < maxlen; at += bs) for (int b = 0; b < batch; b++) if (at < lens[b]) tables[b].push_back(next++);
    int nblocks = next + 3, maxBlocks = 1;
    for (auto& t : tables) maxBlocks = std::max(maxBlocks, (int) t.size());
    size_t pool = (size_t) nblocks * kvh * bs * hd;
    std::vector<unsigned short> kp(pool, 0xFFFF), vp(pool, 0xFFFF);
    std::vector<float> bias(kvh * hd);
    for (auto& x : bias) x = U(rng);
    // write tokens through the append kernel (all tokens of all sequences, one launch)
    std::vector<unsigned short> kn, vn; std::vector<int> slots;
    for (int b = 0; b < batch; b++) for (int t = 0; t < lens[b]; t++) {
        for (int e = 0; e < kvh * hd; e++) { kn.push_back(enc(U(rng))); vn.push_back(enc(bias[e] + 0.5f * U(rng))); }
        slots.push_back(tables[b][t / bs] * bs + t % bs);
    }
    slots.push_back(-1); for (int e = 0; e < kvh * hd; e++) { kn.push_back(1); vn.push_back(1); } // a skipped padding token
    int ntok = slots.size();
    launch({ntok, 1, 1}, 128, [&] { tessel_paged_kv_append(kp.data(), vp.data(), kn.data(), vn.data(), slots.data(), kvh, bs, (long long) kvh * hd, (long long) kvh * hd); });
    // check placement: bit-exact, the rest poisoned
    size_t bad = 0, written = 0;
    std::vector<char> wr(pool, 0);
    for (int i = 0, b = 0; b < batch; b++) for (int t = 0; t < lens[b]; t++, i++) for (int h = 0; h < kvh; h++) for (int d = 0; d < hd; d++) {
        size_t at = (((size_t) tables[b][t / bs] * kvh + h) * bs + t % bs) * hd + d;
        wr[at] = 1; written++;
        bad += kp[at] != kn[(size_t) i * kvh * hd + h * hd + d] || vp[at] != vn[(size_t) i * kvh * hd + h * hd + d];
    }
    for (size_t i = 0; i < pool; i++) if (!wr[i]) bad += kp[i] != 0xFFFF || vp[i] != 0xFFFF;
    printf("append: %zu values written, %zu wrong\n", written, bad);
    std::vector<unsigned short> q(batch * heads * hd);
    for (auto& x : q) x = enc(N(rng));
    std::vector<int> packed(batch * maxBlocks, 0);
    for (int b = 0; b < batch; b++) for (size_t i = 0; i < tables[b].size(); i++) packed[b * maxBlocks + i] = tables[b][i];
    // reference in double
    std::vector<double> want(batch * heads * hd, 0.0);
    for (int b = 0; b < batch; b++) for (int h = 0; h < heads; h++) {
        int g = h / (heads / kvh), L = lens[b];
        std::vector<double> s(L); double m = -1e300;
        for (int t = 0; t < L; t++) {
            size_t base = (((size_t) tables[b][t / bs] * kvh + g) * bs + t % bs) * hd; double dot = 0;
            for (int d = 0; d < hd; d++) dot += (double) dec(q[(b * heads + h) * hd + d]) * dec(kp[base + d]);
            s[t] = dot / std::sqrt((double) hd); m = std::max(m, s[t]);
        }
        double sum = 0; for (int t = 0; t < L; t++) sum += s[t] = std::exp(s[t] - m);
        for (int t = 0; t < L; t++) {
            size_t base = (((size_t) tables[b][t / bs] * kvh + g) * bs + t % bs) * hd;
            for (int d = 0; d < hd; d++) want[(b * heads + h) * hd + d] += s[t] / sum * dec(vp[base + d]);
        }
    }
    int nparts = (maxlen + part - 1) / part; if (nparts < 1) nparts = 1;
    std::vector<unsigned short> out(batch * heads * hd, 0xFFFF);
    std::vector<float> po((size_t) batch * heads * nparts * hd, NAN), pm(batch * heads * nparts, NAN), ps(batch * heads * nparts, NAN);
    float scale = 1.0f / std::sqrt((float) hd);
    launch({nparts, heads / HPB, batch}, 128, [&] {
        tessel_paged_attention(out.data(), po.data(), pm.data(), ps.data(), q.data(), kp.data(), vp.data(), packed.data(), lens.data(),
                               nullptr, nullptr, nullptr, nullptr, nullptr, 0LL, 0LL, heads, kvh, maxBlocks, part, scale, 1.0f, 1.0f); });
    if (nparts > 1)
        launch({heads, batch, 1}, 128, [&] { tessel_paged_attention_reduce(out.data(), po.data(), pm.data(), ps.data(), lens.data(), heads, nparts, part); });
    double maxerr = 0, maxref = 0; int nonfinite = 0;
    for (size_t i = 0; i < out.size(); i++) {
        float g = dec(out[i]);
        if (!std::isfinite(g)) { nonfinite++; continue; }
        maxerr = std::max(maxerr, std::fabs(g - want[i])); maxref = std::max(maxref, std::fabs(want[i]));
    }
    printf("attention H%d/%d D%d bs%d partition %d x%d %s: max abs err %.3e (max |ref| %.3f), %d non-finite\n", heads, kvh, hd, bs, part, nparts,
           PA_BF16 ? "bf16" : "f16", maxerr, maxref, nonfinite);
    // the append fused into the attention kernel: each sequence's last token poisoned in copies of the pools, then
    // written and attended to by one launch; the output and the pools must equal the append-then-attention ones bit for bit
    std::vector<unsigned short> kp2 = kp, vp2 = vp, kn2((size_t) batch * kvh * hd, 1), vn2((size_t) batch * kvh * hd, 1), out2(out.size(), 0xFFFF);
    std::vector<int> nslot(batch, -1);
    for (int b = 0, first = 0; b < batch; first += lens[b], b++) {
        if (lens[b] == 0) continue;
        int i = first + lens[b] - 1;
        nslot[b] = slots[i];
        std::copy(kn.begin() + (size_t) i * kvh * hd, kn.begin() + (size_t) (i + 1) * kvh * hd, kn2.begin() + (size_t) b * kvh * hd);
        std::copy(vn.begin() + (size_t) i * kvh * hd, vn.begin() + (size_t) (i + 1) * kvh * hd, vn2.begin() + (size_t) b * kvh * hd);
        for (int h = 0; h < kvh; h++) for (int d = 0; d < hd; d++) {
            size_t at = (((size_t) (slots[i] / bs) * kvh + h) * bs + slots[i] % bs) * hd + d;
            kp2[at] = vp2[at] = 0xFFFF;
        }
    }
    launch({nparts, heads / HPB, batch}, 128, [&] {
        tessel_paged_attention(out2.data(), po.data(), pm.data(), ps.data(), q.data(), kp2.data(), vp2.data(), packed.data(), lens.data(),
                               kp2.data(), vp2.data(), kn2.data(), vn2.data(), nslot.data(), (long long) kvh * hd, (long long) kvh * hd, heads, kvh, maxBlocks, part, scale, 1.0f, 1.0f); });
    if (nparts > 1)
        launch({heads, batch, 1}, 128, [&] { tessel_paged_attention_reduce(out2.data(), po.data(), pm.data(), ps.data(), lens.data(), heads, nparts, part); });
    size_t fusedBad = 0;
    for (size_t i = 0; i < out.size(); i++) fusedBad += out2[i] != out[i];
    for (size_t i = 0; i < pool; i++) fusedBad += kp2[i] != kp[i] || vp2[i] != vp[i];
    printf("fused append: %zu output and pool values differ from append then attention\n", fusedBad);
    return (bad == 0 && fusedBad == 0 && nonfinite == 0 && maxerr < (PA_BF16 ? 8e-3 : 2e-3)) ? 0 : 1;
}
