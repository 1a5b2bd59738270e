/**
 * The one place for java.lang.foreign bindings of CUDA libraries that JCuda cannot load with
 * CUDA 13 and cuDNN 9: {@link org.tessel.runtime.cuda.ffm.Nvrtc}, {@link
 * org.tessel.runtime.cuda.ffm.CublasLt}, {@link org.tessel.runtime.cuda.ffm.Cublas} and {@link
 * org.tessel.runtime.cuda.ffm.Cudnn}. Libraries are found by soname through {@link
 * org.tessel.runtime.cuda.ffm.NativeLibrary}; a missing one throws {@link
 * org.tessel.runtime.cuda.ffm.MissingLibraryException} saying which, what was tried and what it
 * disables. Device memory comes from the device layer and is passed as raw addresses.
 */
package org.tessel.runtime.cuda.ffm;
