// Include LAST in a kernel source file: turns off floating-point contraction for the rest of that file, so
// that a·b + c is rounded twice as written and an FMA appears only where the code asks for one. GCC fuses
// by default whenever the target has FMA (x86 with -mfma, any aarch64), including a multiply and an add
// written as two intrinsics; that would make the same formula round differently per build and per ISA.
// No include guard on purpose: the pragma applies to the including file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
