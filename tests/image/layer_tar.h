/* Test helper: builds layer tars in memory with libarchive's writer. */
#ifndef ISOLA_TESTS_IMAGE_LAYER_TAR_H
#define ISOLA_TESTS_IMAGE_LAYER_TAR_H

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

enum tar_comp { TAR_PLAIN, TAR_GZIP, TAR_ZSTD };

struct tar_ent {
        const char *name;
        unsigned type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, ... */
        unsigned mode;
        const char *data;     /* file content, or symlink target */
        const char *hardlink; /* hard link target (type ignored) */
        int64_t size;         /* declared size when > 0 and data is NULL */
};

/* Writes the entries as a pax tar, compressed as asked, into a malloc'd
 * buffer; returns its size (0 on failure). */
static inline size_t tar_build(const struct tar_ent *ents, size_t n, enum tar_comp comp, char **out)
{
        size_t cap = 1 << 20, used = 0;
        char *buf = malloc(cap);
        struct archive *a = archive_write_new();

        archive_write_set_format_pax_restricted(a);
        if (comp == TAR_GZIP)
                archive_write_add_filter_gzip(a);
        else if (comp == TAR_ZSTD)
                archive_write_add_filter_zstd(a);
        archive_write_set_bytes_in_last_block(a, 1);
        if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK) {
                archive_write_free(a);
                free(buf);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, ents[i].name);
                archive_entry_set_mtime(e, 1000000000, 0);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                if (ents[i].hardlink) {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, ents[i].hardlink);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_filetype(e, ents[i].type);
                        if (ents[i].type == AE_IFLNK)
                                archive_entry_set_symlink(e, ents[i].data);
                        if (ents[i].type == AE_IFCHR || ents[i].type == AE_IFBLK)
                                archive_entry_set_rdev(e, makedev(1, 3));
                        if (ents[i].type == AE_IFREG)
                                archive_entry_set_size(
                                    e, ents[i].data ? (int64_t)strlen(ents[i].data) : ents[i].size);
                }
                archive_entry_set_perm(e, ents[i].mode ? ents[i].mode : 0644);
                archive_write_header(a, e);
                if (!ents[i].hardlink && ents[i].type == AE_IFREG && ents[i].data)
                        archive_write_data(a, ents[i].data, strlen(ents[i].data));
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
        *out = buf;
        return used;
}

#endif
