/* Entry points of the test guest. Two ways in, one C main:
 *  - _start32: the PVH entry named by the Xen ELF note (QEMU -kernel and
 *    isola's PVH loader). 32-bit protected mode, paging off, EBX holds the
 *    physical address of hvm_start_info. We build 4 GiB of identity-mapped
 *    2 MiB pages, enter long mode and call guest_main(start_info, 1).
 *  - _start64: e_entry, for loaders that enter ELF64 kernels in long mode
 *    with their own page tables (isola's plain ELF64 loader). RSI is the
 *    Linux-style boot_params pointer when the loader provides one.
 * The page tables are assembled as initialised data so no guest
 * instructions are spent filling them: on this host each one costs ~1 us. */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a"
	.p2align 2
	.long 4f - 3f		/* namesz */
	.long 6f - 5f		/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
3:	.asciz "Xen"
4:	.p2align 2
5:	.long _start32
6:	.p2align 2

	.section .text.entry, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	movl %ebx, %esi
	lgdt gdt_desc
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax			/* CR4.PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx		/* EFER */
	rdmsr
	orl $0x100, %eax		/* EFER.LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* CR0.PG | CR0.PE */
	movl %eax, %cr0
	ljmp $0x08, $long_mode_pvh

	.code64
long_mode_pvh:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movabsq $stack_top, %rsp
	movl %esi, %edi			/* hvm_start_info, zero-extended */
	movl $1, %esi			/* BOOT_PVH */
	call guest_main
	jmp halt_forever

	.globl _start64
_start64:
	cli
	cld
	movq %rsi, %rdi			/* boot_params (or whatever the loader left) */
	lgdt gdt_desc
	movabsq $pml4, %rax
	movq %rax, %cr3
	movabsq $stack_top, %rsp
	pushq $0x08
	movabsq $1f, %rax
	pushq %rax
	lretq				/* reload CS from our GDT */
1:	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $2, %esi			/* BOOT_ELF64 */
	call guest_main

halt_forever:
	cli
	hlt
	jmp halt_forever

	.section .data.boot, "aw"
	.p2align 4
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt			/* 32-bit lgdt reads the low 4 bytes */

	.p2align 12
pml4:
	.quad pdpt + 0x3
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0003
	.quad pd + 0x1003
	.quad pd + 0x2003
	.quad pd + 0x3003
	.fill 508, 8, 0
pd:					/* 2048 x 2 MiB = 4 GiB identity */
	.set addr, 0
	.rept 2048
	.quad addr + 0x83		/* present, writable, 2 MiB page */
	.set addr, addr + 0x200000
	.endr

	.section .bss.stack, "aw", @nobits
	.p2align 4
	.space 16384
stack_top:
