/*
 * The two functions MKL asks whether the processor is Intel's before it picks its kernels by the
 * processor's instruction sets. Loaded before libtorch with RTLD_GLOBAL (MklKernels.java), these
 * definitions answer libtorch's MKL, which calls them through its PLT: on an AMD processor MKL
 * then takes the AVX2/AVX-512 kernels the processor supports instead of its generic ones.
 */
int mkl_serv_intel_cpu(void) { return 1; }

int mkl_serv_intel_cpu_true(void) { return 1; }
