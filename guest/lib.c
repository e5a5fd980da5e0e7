/* The guest's tiny C library: memory and string helpers, COM1 output and a
 * printf subset (%s %c %d %u %x with l/ll/z, width and zero padding). */
#include <stdarg.h>

#include "guest.h"

#define COM1 0x3f8

/* Word-at-a-time when aligned: every guest instruction costs ~1 us here. */
void *memset(void *d, int c, size_t n)
{
        uint8_t *p = d;
        uint64_t v = 0x0101010101010101ULL * (uint8_t)c;
        for (; n && ((uintptr_t)p & 7); n--)
                *p++ = (uint8_t)c;
        for (; n >= 8; n -= 8, p += 8)
                *(uint64_t *)p = v;
        while (n--)
                *p++ = (uint8_t)c;
        return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
        uint8_t *p = d;
        const uint8_t *q = s;
        if ((((uintptr_t)p | (uintptr_t)q) & 7) == 0)
                for (; n >= 8; n -= 8, p += 8, q += 8)
                        *(uint64_t *)p = *(const uint64_t *)q;
        while (n--)
                *p++ = *q++;
        return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
        const uint8_t *p = a, *q = b;
        if ((((uintptr_t)p | (uintptr_t)q) & 7) == 0)
                for (; n >= 8 && *(const uint64_t *)p == *(const uint64_t *)q;
                     n -= 8, p += 8, q += 8)
                        ;
        for (; n; n--, p++, q++)
                if (*p != *q)
                        return *p - *q;
        return 0;
}

size_t strlen(const char *s)
{
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

bool str_eq_n(const char *a, const char *b, size_t n)
{
        return strlen(b) == n && memcmp(a, b, n) == 0;
}

static unsigned uart_burst = 1;

void uart_init(void)
{
        outb(COM1 + 1, 0x00); /* no interrupts: we poll */
        outb(COM1 + 3, 0x80); /* DLAB */
        outb(COM1 + 0, 0x01); /* 115200 */
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03); /* 8N1 */
        outb(COM1 + 2, 0x07); /* enable and clear the FIFOs */
        outb(COM1 + 4, 0x03); /* DTR | RTS */
        /* With a working 16550 FIFO one THRE poll covers 16 bytes, halving
         * the exits per character; a 16450 takes one byte at a time. */
        if ((inb(COM1 + 2) & 0xc0) == 0xc0)
                uart_burst = 16;
}

void uart_write(const char *s, size_t n)
{
        while (n) {
                for (unsigned spin = 0; spin < 100000; spin++)
                        if (inb(COM1 + 5) & 0x20)
                                break;
                for (unsigned i = 0; i < uart_burst && n; i++, n--)
                        outb(COM1, (uint8_t)*s++);
        }
}

struct sink {
        char *buf;
        size_t len, cap;
};

static void put(struct sink *k, char c)
{
        if (k->len < k->cap)
                k->buf[k->len] = c;
        k->len++;
}

static void put_num(struct sink *k, unsigned long long v, unsigned base, unsigned width, char pad,
                    bool neg)
{
        char tmp[24];
        unsigned n = 0;
        do {
                tmp[n++] = "0123456789abcdef"[v % base];
                v /= base;
        } while (v);
        if (neg)
                tmp[n++] = '-';
        while (width > n) {
                put(k, pad);
                width--;
        }
        while (n)
                put(k, tmp[--n]);
}

static void vformat(struct sink *k, const char *fmt, va_list ap)
{
        for (; *fmt; fmt++) {
                if (*fmt != '%') {
                        put(k, *fmt);
                        continue;
                }
                fmt++;
                char pad = ' ';
                unsigned width = 0, lng = 0;
                if (*fmt == '0')
                        pad = '0';
                while (*fmt >= '0' && *fmt <= '9')
                        width = width * 10 + (unsigned)(*fmt++ - '0');
                while (*fmt == 'l' || *fmt == 'z')
                        lng++, fmt++;
                unsigned long long u;
                switch (*fmt) {
                case 's': {
                        const char *s = va_arg(ap, const char *);
                        while (*s)
                                put(k, *s++);
                        break;
                }
                case 'c':
                        put(k, (char)va_arg(ap, int));
                        break;
                case 'd': {
                        long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
                        put_num(k, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10,
                                width, pad, v < 0);
                        break;
                }
                case 'u':
                case 'x':
                        u = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
                        put_num(k, u, *fmt == 'u' ? 10 : 16, width, pad, false);
                        break;
                case '%':
                        put(k, '%');
                        break;
                default:
                        return;
                }
        }
}

void print(const char *fmt, ...)
{
        char buf[768]; /* a result line: prefix plus a full struct line */
        struct sink k = {buf, 0, sizeof(buf)};
        va_list ap;
        va_start(ap, fmt);
        vformat(&k, fmt, ap);
        va_end(ap);
        uart_write(buf, k.len < k.cap ? k.len : k.cap);
}

void line_add(struct line *l, const char *fmt, ...)
{
        struct sink k = {l->buf + l->len, 0, sizeof(l->buf) - 1 - l->len};
        va_list ap;
        va_start(ap, fmt);
        vformat(&k, fmt, ap);
        va_end(ap);
        l->len += k.len < k.cap ? k.len : k.cap;
        l->buf[l->len] = 0;
}

void fill_sector(uint8_t *s, const char *tag, uint64_t lba)
{
        /* A header line the host greps for, then byte j = (j ^ lba) & 0xff. */
        struct line l = {.len = 0};
        line_add(&l, "ISOLA-%s lba=%08lx\n", tag, (unsigned long)lba);
        uint64_t *q = (uint64_t *)s;
        uint64_t v = 0x0101010101010101ULL * (uint8_t)lba;
        for (unsigned i = 0; i < 64; i++)
                q[i] = v ^ (0x0706050403020100ULL + 0x0808080808080808ULL * (i & 31));
        memcpy(s, l.buf, l.len);
}
