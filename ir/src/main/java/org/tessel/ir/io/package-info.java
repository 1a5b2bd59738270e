/**
 * Files as every tool in Tessel reads and writes them: {@link org.tessel.ir.io.TextFiles} reads
 * UTF-8 text and says which file, line and byte are wrong when it is not (or when the path is a
 * folder); {@link org.tessel.ir.io.AtomicFiles} writes a file whole or not at all, through a
 * temporary file of its own beside the target, so concurrent writers of one path never break each
 * other and a failed write leaves neither a half-written target nor a stray temporary file;
 * {@link org.tessel.ir.io.IdxFiles} reads MNIST's IDX tensors (gzipped or not), as Fashion-MNIST ships;
 * {@link org.tessel.ir.io.SafeTensors} reads and writes safetensors files (PEFT adapters, Hugging Face
 * checkpoints) and {@link org.tessel.ir.io.Json} parses the JSON beside them.
 */
package org.tessel.ir.io;
