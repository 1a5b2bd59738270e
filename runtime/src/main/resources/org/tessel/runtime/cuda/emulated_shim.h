// Host stand-ins for the CUDA C that Tessel's kernels use, so a kernel source compiles with g++ and
// runs on CPU threads (the emulated device of org.tessel.runtime.cuda). EmulatedKernels puts this
// header before the kernel source and a TESSEL_EMU_KERNEL line per __global__ function after it.
//
// Execution: blocks are spread over worker threads. A kernel that needs its block's threads to
// cooperate (__syncthreads, warp shuffles, __shared__) runs each block's CUDA threads as fibers
// on one worker, switching at every barrier, so a block's threads share its __shared__
// variables (thread_local statics: one copy per worker, that is per block in flight) and its dynamic
// shared memory (poisoned with NaN before each block). A barrier is passed when every thread of
// the block (or warp) that has not returned waits at it; threads waiting at different barriers are
// a deadlock, reported as a launch failure. Other kernels run their threads as plain loops.
// Not emulated: memory ordering between blocks, warp divergence timing, out-of-bounds checks
// (a wild pointer crashes the JVM, as it would corrupt the GPU).
#include <math.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <sys/mman.h>
#include <ucontext.h>

// ---- qualifiers ------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local

// ---- built-in variables and vector types -----------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3() = default;
    constexpr dim3(unsigned a, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;
constexpr int warpSize = 32;

#define TESSEL_EMU_VEC2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    inline N##2 make_##N##2(T a, T b) { return {a, b}; }
#define TESSEL_EMU_VEC4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    inline N##4 make_##N##4(T a, T b, T c, T d) { return {a, b, c, d}; }
TESSEL_EMU_VEC2(float, float, 8) TESSEL_EMU_VEC4(float, float, 16)
TESSEL_EMU_VEC2(int, int, 8) TESSEL_EMU_VEC4(int, int, 16)
TESSEL_EMU_VEC2(unsigned, uint, 8) TESSEL_EMU_VEC4(unsigned, uint, 16)
TESSEL_EMU_VEC2(short, short, 4) TESSEL_EMU_VEC4(short, short, 8)
TESSEL_EMU_VEC2(unsigned short, ushort, 4) TESSEL_EMU_VEC4(unsigned short, ushort, 8)
TESSEL_EMU_VEC2(signed char, char, 2) TESSEL_EMU_VEC4(signed char, char, 4)
TESSEL_EMU_VEC2(unsigned char, uchar, 2) TESSEL_EMU_VEC4(unsigned char, uchar, 4)
TESSEL_EMU_VEC2(long long, longlong, 16) TESSEL_EMU_VEC2(double, double, 16)

// ---- the launch machinery ----------------------------------------------------------------------
namespace tessel_emu {
// a failure inside a kernel (a barrier misused, a deadlock): it ends the launch with this message
struct Failure : std::runtime_error { using std::runtime_error::runtime_error; };

enum State { RUNNING, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };
constexpr size_t STACK_BYTES = 256 * 1024, GUARD_BYTES = 4096;

#if defined(__x86_64__)
// A fiber switch without a system call (swapcontext makes one, for the signal mask): the callee-saved
// registers, MXCSR and the x87 control word go on the old stack, whose pointer is stored in *from.
extern "C" void tessel_emu_switch(void** from, void* to);
asm(R"(
    .text
    .p2align 4
    .globl tessel_emu_switch
    .hidden tessel_emu_switch
    .type tessel_emu_switch, @function
tessel_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size tessel_emu_switch, .-tessel_emu_switch
)");
struct Context { void* sp = nullptr; };
inline void switch_context(Context& from, Context& to) { tessel_emu_switch(&from.sp, to.sp); }
// a fresh stack that the first switch "returns" into entry on, aligned as after a call
inline void make_context(Context& c, unsigned char* stack, size_t size, void (*entry)()) {
    uintptr_t top = ((uintptr_t) (stack + size)) & ~(uintptr_t) 15;
    uint64_t* sp = reinterpret_cast<uint64_t*>(top - 72);
    sp[0] = 0x1F80u | ((uint64_t) 0x037Fu << 32);   // MXCSR and x87 control word at their defaults
    for (int i = 1; i <= 6; i++) sp[i] = 0;
    sp[7] = (uint64_t) (uintptr_t) entry;
    sp[8] = 0;
    c.sp = sp;
}
#else
struct Context { ucontext_t uc; };
inline void switch_context(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
inline void make_context(Context& c, unsigned char* stack, size_t size, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}
#endif

// fiber stacks with a guard page below each, kept for reuse by later launches
struct Stacks { unsigned char* base = nullptr; size_t bytes = 0; unsigned count = 0; };
struct StackPool {
    std::mutex lock;
    std::vector<Stacks> free;
    ~StackPool() { for (Stacks& s : free) munmap(s.base, s.bytes); }
};
inline StackPool stack_pool;

inline Stacks acquire_stacks(unsigned n) {
    {
        std::lock_guard<std::mutex> g(stack_pool.lock);
        for (size_t i = 0; i < stack_pool.free.size(); i++)
            if (stack_pool.free[i].count >= n) {
                Stacks s = stack_pool.free[i];
                stack_pool.free.erase(stack_pool.free.begin() + (long) i);
                return s;
            }
    }
    Stacks s;
    s.count = n;
    s.bytes = (size_t) n * (STACK_BYTES + GUARD_BYTES);
    void* m = mmap(nullptr, s.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error("cannot map " + std::to_string(s.bytes >> 20) + " MiB of fiber stacks");
    s.base = static_cast<unsigned char*>(m);
    for (unsigned i = 0; i < n; i++) mprotect(s.base + i * (STACK_BYTES + GUARD_BYTES), GUARD_BYTES, PROT_NONE);
    return s;
}

inline void release_stacks(const Stacks& s) {
    std::lock_guard<std::mutex> g(stack_pool.lock);
    stack_pool.free.push_back(s);
}

struct Fiber {
    Context context;
    uint3 tid;
    State state;
    unsigned shuffles;   // warp shuffles made, for the parity of the exchange slots
};

// a warp's shuffle exchange: two rounds of 32 lanes (a lane writes round k + 2 only after every lane read round k)
struct Slots { unsigned long long lane[2][32]; };

// the block a worker thread is running cooperatively (null in a plain loop)
struct Block {
    std::vector<Fiber> fibers;
    Context scheduler;
    Fiber* current = nullptr;
    Slots* slots = nullptr;   // per warp
    void (*body)(void*) = nullptr;
    void* arg = nullptr;
    std::exception_ptr failure;
};
thread_local Block* block = nullptr;
thread_local unsigned char* dynamic_shared = nullptr;

inline unsigned linear(const uint3& t) { return t.x + blockDim.x * (t.y + blockDim.y * t.z); }

inline void wait(State s) {
    Block* b = block;
    if (b == nullptr) throw Failure(s == AT_BLOCK_BARRIER ? "__syncthreads reached in a kernel run as a plain loop" : "a warp operation reached in a kernel run as a plain loop");
    Fiber* f = b->current;
    f->state = s;
    switch_context(f->context, b->scheduler);
}

// a fiber's first frame: runs the kernel, then hands back to the scheduler for good
[[noreturn]] inline void fiber_entry() {
    Block* b = block;
    try {
        b->body(b->arg);
    } catch (...) {
        if (!b->failure) b->failure = std::current_exception();
    }
    b->current->state = DONE;
    switch_context(b->current->context, b->scheduler);
    std::abort();   // a finished fiber is never resumed
}

// Runs one block's threads as fibers until all return; stacks are the caller's (one per thread).
inline void run_block(Block& b, unsigned char* stacks) {
    unsigned n = (unsigned) b.fibers.size();
    for (unsigned i = 0; i < n; i++) {
        Fiber& f = b.fibers[i];
        f.state = RUNNING;
        f.shuffles = 0;
        make_context(f.context, stacks + i * (STACK_BYTES + GUARD_BYTES) + GUARD_BYTES, STACK_BYTES, fiber_entry);
    }
    unsigned warps = (n + 31) / 32;
    for (;;) {
        for (unsigned i = 0; i < n; i++) {
            Fiber& f = b.fibers[i];
            if (f.state != RUNNING) continue;
            b.current = &f;
            threadIdx = f.tid;
            switch_context(b.scheduler, f.context);
            if (b.failure) std::rethrow_exception(b.failure);
        }
        bool released = false, alive = false, all_at_block = true;
        for (unsigned w = 0; w < warps; w++) {
            bool waiting = false, all = true;
            for (unsigned i = w * 32; i < n && i < w * 32 + 32; i++) {
                State s = b.fibers[i].state;
                if (s == DONE) continue;
                alive = true;
                if (s == AT_WARP_BARRIER) waiting = true; else all = false;
                if (s != AT_BLOCK_BARRIER) all_at_block = false;
            }
            if (waiting && all) {
                for (unsigned i = w * 32; i < n && i < w * 32 + 32; i++) if (b.fibers[i].state == AT_WARP_BARRIER) b.fibers[i].state = RUNNING;
                released = true;
            }
        }
        if (!alive) return;
        if (released) continue;
        if (all_at_block) {
            for (Fiber& f : b.fibers) if (f.state == AT_BLOCK_BARRIER) f.state = RUNNING;
            continue;
        }
        unsigned atBlock = 0, atWarp = 0;
        for (Fiber& f : b.fibers) { if (f.state == AT_BLOCK_BARRIER) atBlock++; if (f.state == AT_WARP_BARRIER) atWarp++; }
        throw Failure("deadlock in block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," + std::to_string(blockIdx.z) + "): "
                + std::to_string(atBlock) + " threads wait at __syncthreads and " + std::to_string(atWarp)
                + " at a warp barrier or shuffle whose warp has threads waiting elsewhere");
    }
}

template <class T> inline T shuffle(T v, int lane_of(int lane, int arg, int width), int arg, int width) {
    static_assert(sizeof(T) <= 8, "a warp shuffle moves at most 8 bytes");
    if (block == nullptr) throw Failure("a warp shuffle reached in a kernel run as a plain loop");
    Fiber* f = block->current;
    unsigned t = linear(f->tid), warp = t / 32, lane = t % 32, round = f->shuffles++ & 1;
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    block->slots[warp].lane[round][lane] = bits;
    wait(AT_WARP_BARRIER);
    int base = (int) lane / width * width;
    int src = lane_of((int) lane % width, arg, width);
    bits = block->slots[warp].lane[round][(src < 0 || src >= width) ? lane : base + src];
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}

// the kernel and its parameters as the launch gave them
template <class... A> struct Call {
    void (*fn)(A...);
    std::tuple<std::decay_t<A>...> args;
    static void invoke(void* self) { auto* c = static_cast<Call*>(self); std::apply(c->fn, c->args); }
};

template <class... A, size_t... I> Call<A...> unpack(void (*fn)(A...), void** params, std::index_sequence<I...>) {
    return Call<A...>{fn, std::tuple<std::decay_t<A>...>(*static_cast<std::decay_t<A>*>(params[I])...)};
}

// the kind of each parameter as the Java side names them: p pointer, i 4-byte integer, l 8-byte
// integer, f float, d double, h 2-byte integer, b byte, s<bytes> anything else
template <class T> std::string kind() {
    using U = std::decay_t<T>;
    if constexpr (std::is_pointer_v<U>) return "p";
    else if constexpr (std::is_same_v<U, float>) return "f";
    else if constexpr (std::is_same_v<U, double>) return "d";
    else if constexpr (std::is_integral_v<U> && sizeof(U) == 8) return "l";
    else if constexpr (std::is_integral_v<U> && sizeof(U) == 4) return "i";
    else if constexpr (std::is_integral_v<U> && sizeof(U) == 2) return "h";
    else if constexpr (std::is_integral_v<U> && sizeof(U) == 1) return "b";
    else return "s" + std::to_string(sizeof(U));
}
template <class... A> std::string signature(void (*)(A...)) { std::string s; ((s += kind<A>()), ...); return s; }

// Runs the grid: blocks [first, end) step `step` on this thread.
template <class C> void run_blocks(C& call, dim3 grid, dim3 threads, int smem, bool cooperative, long long first, long long step, long long end) {
    gridDim = grid;
    blockDim = threads;
    unsigned n = threads.x * threads.y * threads.z;
    std::vector<unsigned char> shared(cooperative ? (size_t) smem + 16 : 0);
    dynamic_shared = cooperative ? shared.data() + (16 - ((uintptr_t) shared.data() & 15)) % 16 : nullptr;
    Block b;
    Stacks stacks;
    std::vector<Slots> slots(cooperative ? (n + 31) / 32 : 0);
    if (cooperative) {
        stacks = acquire_stacks(n);
        b.fibers.resize(n);
        for (unsigned i = 0; i < n; i++) b.fibers[i].tid = {i % threads.x, i / threads.x % threads.y, i / (threads.x * threads.y)};
        b.slots = slots.data();
        b.body = &C::invoke;
        b.arg = &call;
    }
    struct Release {
        Stacks s;
        ~Release() { if (s.base) release_stacks(s); block = nullptr; dynamic_shared = nullptr; }
    } release{stacks};
    for (long long id = first; id < end; id += step) {
        blockIdx = {(unsigned) (id % grid.x), (unsigned) (id / grid.x % grid.y), (unsigned) (id / ((long long) grid.x * grid.y))};
        if (cooperative) {
            std::memset(shared.data(), 0xFF, shared.size());   // NaN in every float type
            block = &b;
            run_block(b, stacks.base);
            block = nullptr;
        } else {
            for (unsigned z = 0; z < threads.z; z++)
                for (unsigned y = 0; y < threads.y; y++)
                    for (unsigned x = 0; x < threads.x; x++) {
                        threadIdx = {x, y, z};
                        C::invoke(&call);
                    }
        }
    }
}

inline int fail(const std::string& message, char* error, int capacity) {
    std::snprintf(error, (size_t) capacity, "%s", message.c_str());
    return 1;
}

template <class... A> int launch(void (*fn)(A...), bool cooperative, int gx, int gy, int gz, int bx, int by, int bz, int smem, void** params, int workers,
                                 char* error, int capacity) {
    try {
        Call<A...> call = unpack(fn, params, std::index_sequence_for<A...>{});
        dim3 grid(gx, gy, gz), threads(bx, by, bz);
        long long blocks = (long long) gx * gy * gz, work = blocks * bx * by * bz;
        // small grids stay on the calling thread; a worker's fibers need their own stacks, so cooperative
        // kernels only split when there are several blocks
        int w = (int) std::min<long long>(workers, work < 32768 && !cooperative ? 1 : blocks);
        if (w <= 1) {
            run_blocks(call, grid, threads, smem, cooperative, 0, 1, blocks);
            return 0;
        }
        std::vector<std::thread> pool;
        std::vector<std::string> errors(w);
        for (int i = 0; i < w; i++)
            pool.emplace_back([&, i] {
                try {
                    run_blocks(call, grid, threads, smem, cooperative, i, w, blocks);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
        for (auto& t : pool) t.join();
        for (auto& e : errors) if (!e.empty()) return fail(e, error, capacity);
        return 0;
    } catch (const std::exception& e) {
        return fail(e.what(), error, capacity);
    }
}
}  // namespace tessel_emu

// a launcher and a signature per kernel, e.g. TESSEL_EMU_KERNEL(tessel_softmax, 1)
#define TESSEL_EMU_KERNEL(name, cooperative) \
    extern "C" __attribute__((visibility("default"))) int tessel_emu_launch_##name(int gx, int gy, int gz, int bx, int by, int bz, int smem, void** params, int workers, \
                                                                      char* error, int capacity) { \
        return tessel_emu::launch(&name, cooperative, gx, gy, gz, bx, by, bz, smem, params, workers, error, capacity); } \
    extern "C" __attribute__((visibility("default"))) const char* tessel_emu_signature_##name() { \
        static const std::string s = tessel_emu::signature(&name); return s.c_str(); }

// ---- synchronization ---------------------------------------------------------------------------
inline void __syncthreads() { tessel_emu::wait(tessel_emu::AT_BLOCK_BARRIER); }
inline void __syncwarp(unsigned = 0xffffffffu) { tessel_emu::wait(tessel_emu::AT_WARP_BARRIER); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
template <class T> inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    return tessel_emu::shuffle(v, [](int, int s, int w) { return ((s % w) + w) % w; }, src, width);
}
template <class T> inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    return tessel_emu::shuffle(v, [](int lane, int m, int) { return lane ^ m; }, mask, width);
}
template <class T> inline T __shfl_down_sync(unsigned, T v, unsigned d, int width = 32) {
    return tessel_emu::shuffle(v, [](int lane, int delta, int) { return lane + delta; }, (int) d, width);
}
template <class T> inline T __shfl_up_sync(unsigned, T v, unsigned d, int width = 32) {
    return tessel_emu::shuffle(v, [](int lane, int delta, int) { return lane - delta; }, (int) d, width);
}
// the lanes of the warp whose v equals this lane's (every lane of the warp calls it, as the shuffles it is made of need)
inline unsigned __match_any_sync(unsigned mask, unsigned v) {
    unsigned peers = 0;
    for (int j = 0; j < 32; j++)
        if (__shfl_sync(mask, v, j) == v) peers |= 1u << j;
    return peers & mask;
}

// ---- atomics (on host atomics; return the old value as CUDA's do) ------------------------------
template <class T> inline T atomicAdd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_add(v); }
template <class T> inline T atomicSub(T* p, T v) { return std::atomic_ref<T>(*p).fetch_sub(v); }
template <class T> inline T atomicExch(T* p, T v) { return std::atomic_ref<T>(*p).exchange(v); }
template <class T> inline T atomicAnd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_and(v); }
template <class T> inline T atomicOr(T* p, T v) { return std::atomic_ref<T>(*p).fetch_or(v); }
template <class T> inline T atomicXor(T* p, T v) { return std::atomic_ref<T>(*p).fetch_xor(v); }
template <class T> inline T atomicCAS(T* p, T expected, T v) { std::atomic_ref<T>(*p).compare_exchange_strong(expected, v); return expected; }
template <class T> inline T atomicMax(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (old < v && !a.compare_exchange_weak(old, v)) {}
    return old;
}
template <class T> inline T atomicMin(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (v < old && !a.compare_exchange_weak(old, v)) {}
    return old;
}

// ---- memory and intrinsics -------------------------------------------------------------------
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
inline void* tessel_emu_dynamic_shared() { return tessel_emu::dynamic_shared; }
template <class A, class B> inline auto min(A a, B b) -> std::common_type_t<A, B> { return b < a ? b : a; }
template <class A, class B> inline auto max(A a, B b) -> std::common_type_t<A, B> { return a < b ? b : a; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
inline float __expf(float a) { return expf(a); }
inline float __logf(float a) { return logf(a); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __sinf(float a) { return sinf(a); }
inline float __cosf(float a) { return cosf(a); }
inline float __tanf(float a) { return tanf(a); }
inline float __saturatef(float a) { return a != a ? 0.0f : a < 0.0f ? 0.0f : a > 1.0f ? 1.0f : a; }
inline int __float2int_rn(float f) { return (int) nearbyintf(f); }
inline int __float2int_rz(float f) { return (int) f; }
inline int __float2int_rd(float f) { return (int) floorf(f); }
inline int __float2int_ru(float f) { return (int) ceilf(f); }
inline unsigned __float2uint_rn(float f) { return (unsigned) nearbyintf(f); }
inline float __int2float_rn(int i) { return (float) i; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned) x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) { x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1); x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4); x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8); return (x >> 16) | (x << 16); }
// the PTX the prelude uses, in software: cvt (round to nearest even; NaN to the canonical NaN, as
// cvt.rn.bf16.f32 gives)
inline float tessel_emu_h2f(unsigned short h) { _Float16 x; std::memcpy(&x, &h, 2); return (float) x; }
inline unsigned short tessel_emu_f2h(float f) { _Float16 x = (_Float16) f; unsigned short h; std::memcpy(&h, &x, 2); return h; }
// f16x2 arithmetic (sub.rn.f16x2, fma.rn.f16x2) in f32, rounded once to f16 per half (exact for the GEMV's operands)
inline unsigned tessel_emu_h2(float lo, float hi) { return (unsigned) tessel_emu_f2h(lo) | ((unsigned) tessel_emu_f2h(hi) << 16); }
inline float tessel_emu_lo(unsigned v) { return tessel_emu_h2f((unsigned short) (v & 0xFFFFu)); }
inline float tessel_emu_hi(unsigned v) { return tessel_emu_h2f((unsigned short) (v >> 16)); }
inline unsigned tessel_emu_hsub2(unsigned a, unsigned b) { return tessel_emu_h2(tessel_emu_lo(a) - tessel_emu_lo(b), tessel_emu_hi(a) - tessel_emu_hi(b)); }
inline unsigned tessel_emu_hfma2(unsigned a, unsigned b, unsigned c) {
    return tessel_emu_h2(std::fma(tessel_emu_lo(a), tessel_emu_lo(b), tessel_emu_lo(c)), std::fma(tessel_emu_hi(a), tessel_emu_hi(b), tessel_emu_hi(c)));
}
// mma.sync.m16n8k16.row.col.f32.f16.f16.f32 with A's rows 8..15 zero: lane 4 r + q holds A[r][2q, 2q+1] (a0) and
// A[r][2q+8, 2q+9] (a2), B[2q, 2q+1][r] (b0) and B[2q+8, 2q+9][r] (b1), and adds D[r][2q] and D[r][2q+1] into d[0] and d[1]
// (d[2], d[3], rows 8..15, gain nothing); every lane makes the same shuffles, in the same order
inline void tessel_emu_mma_f16_r8(float (&d)[4], unsigned a0, unsigned a2, unsigned b0, unsigned b1) {
    const int lane = (int) (threadIdx.x & 31u), r = lane >> 2, q = lane & 3;
    float sum[2] = {0.0f, 0.0f};
    for (int kq = 0; kq < 4; kq++) {
        const unsigned A0 = __shfl_sync(~0u, a0, 4 * r + kq), A2 = __shfl_sync(~0u, a2, 4 * r + kq);
        for (int j = 0; j < 2; j++) {
            const unsigned B0 = __shfl_sync(~0u, b0, 4 * (2 * q + j) + kq), B1 = __shfl_sync(~0u, b1, 4 * (2 * q + j) + kq);
            sum[j] += tessel_emu_lo(A0) * tessel_emu_lo(B0) + tessel_emu_hi(A0) * tessel_emu_hi(B0) + tessel_emu_lo(A2) * tessel_emu_lo(B1) + tessel_emu_hi(A2) * tessel_emu_hi(B1);
        }
    }
    d[0] += sum[0];
    d[1] += sum[1];
}
// ---- the mma kernels' PTX (mma.cuh) in software ------------------------------------------------
// mma.sync.m16n8k16.row.col.f32.f16.f16.f32: lane 4 g + t holds A[g][2t, 2t+1] (a[0]), A[g+8][2t, 2t+1] (a[1]),
// A[g][2t+8, 2t+9] (a[2]), A[g+8][2t+8, 2t+9] (a[3]), B[2t, 2t+1][g] (b0) and B[2t+8, 2t+9][g] (b1), and adds D[g][2t, 2t+1]
// into c[0], c[1] and D[g+8][2t, 2t+1] into c[2], c[3]; the products are summed in f32; every lane makes the same shuffles
inline void tessel_emu_mma_f16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
    const int lane = (int) (threadIdx.x & 31u), g = lane >> 2, t = lane & 3;
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int kq = 0; kq < 4; kq++) {
        const unsigned A0 = __shfl_sync(~0u, a[0], 4 * g + kq), A1 = __shfl_sync(~0u, a[1], 4 * g + kq);
        const unsigned A2 = __shfl_sync(~0u, a[2], 4 * g + kq), A3 = __shfl_sync(~0u, a[3], 4 * g + kq);
        for (int j = 0; j < 2; j++) {
            // column 2t + j of B: lane 4 (2t + j) + kq holds its k = 2kq, 2kq+1 (b0) and 2kq+8, 2kq+9 (b1)
            const unsigned B0 = __shfl_sync(~0u, b0, 4 * (2 * t + j) + kq), B1 = __shfl_sync(~0u, b1, 4 * (2 * t + j) + kq);
            sum[j] += tessel_emu_lo(A0) * tessel_emu_lo(B0) + tessel_emu_hi(A0) * tessel_emu_hi(B0) + tessel_emu_lo(A2) * tessel_emu_lo(B1) + tessel_emu_hi(A2) * tessel_emu_hi(B1);
            sum[2 + j] += tessel_emu_lo(A1) * tessel_emu_lo(B0) + tessel_emu_hi(A1) * tessel_emu_hi(B0) + tessel_emu_lo(A3) * tessel_emu_lo(B1) + tessel_emu_hi(A3) * tessel_emu_hi(B1);
        }
    }
    for (int i = 0; i < 4; i++) c[i] += sum[i];
}
// mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32: as the f16 form, each register four signed bytes of k (A: lane 4g + kq
// holds row g's k = 4kq..4kq+3 in a[0] and 16 + 4kq.. in a[2], row g + 8's in a[1], a[3]; B: lane 4n + kq holds column n's
// k = 4kq.. in b0 and 16 + 4kq.. in b1); exact int32 sums
inline int tessel_emu_dot4(unsigned a, unsigned b) {
    int s = 0;
    for (int i = 0; i < 4; i++) s += (int) (signed char) (a >> (8 * i)) * (int) (signed char) (b >> (8 * i));
    return s;
}
inline void tessel_emu_mma_s8(int* c, const unsigned* a, unsigned b0, unsigned b1) {
    const int lane = (int) (threadIdx.x & 31u), g = lane >> 2, t = lane & 3;
    int sum[4] = {0, 0, 0, 0};
    for (int kq = 0; kq < 4; kq++) {
        const unsigned A0 = __shfl_sync(~0u, a[0], 4 * g + kq), A1 = __shfl_sync(~0u, a[1], 4 * g + kq);
        const unsigned A2 = __shfl_sync(~0u, a[2], 4 * g + kq), A3 = __shfl_sync(~0u, a[3], 4 * g + kq);
        for (int j = 0; j < 2; j++) {
            const unsigned B0 = __shfl_sync(~0u, b0, 4 * (2 * t + j) + kq), B1 = __shfl_sync(~0u, b1, 4 * (2 * t + j) + kq);
            sum[j] += tessel_emu_dot4(A0, B0) + tessel_emu_dot4(A2, B1);
            sum[2 + j] += tessel_emu_dot4(A1, B0) + tessel_emu_dot4(A3, B1);
        }
    }
    for (int i = 0; i < 4; i++) c[i] += sum[i];
}
// shared-window addresses: a __shared__ array is a static thread_local of the kernel's library, so its offset from this
// anchor (in the same thread's TLS block) stands for the 32-bit address cvta.to.shared gives on a GPU
inline thread_local unsigned char tessel_emu_smem_anchor;
inline unsigned tessel_emu_smem_addr(const void* p) {
    const long long off = (long long) ((const unsigned char*) p - &tessel_emu_smem_anchor);
    if (off != (long long) (int) off) throw tessel_emu::Failure("tessel_smem_addr: a pointer outside the block's static shared memory");
    return (unsigned) (int) off;
}
inline unsigned char* tessel_emu_smem_ptr(unsigned a) { return &tessel_emu_smem_anchor + (int) a; }
// cp.async.cg.shared.global 16 bytes, done at once: bytes (0 or 16) copied from src, the rest of the 16 zero-filled;
// commit and wait have nothing left to wait for
inline void tessel_emu_cp_async16(unsigned dst, const void* src, int bytes) {
    unsigned char* d = tessel_emu_smem_ptr(dst);
    std::memset(d, 0, 16);
    if (bytes > 0) std::memcpy(d, src, (size_t) (bytes < 16 ? bytes : 16));
}
// ldmatrix.sync.aligned.m8n8.x4.shared.b16: lanes 8m..8m+7 give the row addresses of 8x8 b16 matrix m; lane 4 g + t
// receives in r[m] matrix m's row g, elements 2t and 2t + 1 (bytes 4t..4t+3 of the row). A row address must be 16-byte
// aligned, as on a GPU
inline void tessel_emu_ldmatrix_x4(unsigned* r, unsigned addr) {
    const int lane = (int) (threadIdx.x & 31u), g = lane >> 2, t = lane & 3;
    if ((uintptr_t) tessel_emu_smem_ptr(addr) & 15u) throw tessel_emu::Failure("ldmatrix: a row address not 16-byte aligned");
    for (int m = 0; m < 4; m++) {
        const unsigned row = __shfl_sync(~0u, addr, 8 * m + g);
        std::memcpy(&r[m], tessel_emu_smem_ptr(row) + 4 * t, 4);
    }
}
// ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16: lanes 8m..8m+7 give the row addresses of 8x8 b16 matrix m; lane 4 g + t
// receives in r[m] matrix m's elements (row 2t, column g) and (row 2t + 1, column g)
inline void tessel_emu_ldmatrix_x4_trans(unsigned* r, unsigned addr) {
    const int lane = (int) (threadIdx.x & 31u), g = lane >> 2, t = lane & 3;
    for (int m = 0; m < 4; m++) {
        const unsigned row0 = __shfl_sync(~0u, addr, 8 * m + 2 * t), row1 = __shfl_sync(~0u, addr, 8 * m + 2 * t + 1);
        unsigned short lo, hi;
        std::memcpy(&lo, tessel_emu_smem_ptr(row0) + 2 * g, 2);
        std::memcpy(&hi, tessel_emu_smem_ptr(row1) + 2 * g, 2);
        r[m] = (unsigned) lo | ((unsigned) hi << 16);
    }
}
inline unsigned short tessel_emu_f2bf(float f) {
    unsigned u = __float_as_uint(f);
    if (f != f) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
}
// CUDA's __dp4a(int, int, int) (sm_61+): the four signed byte products of a and b added to c, wrapping as the
// instruction's 32-bit sum does
inline int __dp4a(int a, int b, int c) {
    unsigned sum = (unsigned) c;
    for (int i = 0; i < 4; i++) sum += (unsigned) ((int) (signed char) (a >> (8 * i)) * (int) (signed char) (b >> (8 * i)));
    return (int) sum;
}
