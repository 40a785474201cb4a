/*
 * test_install.c - `make install` honours DESTDIR and PREFIX, installs every
 * piece where the RPM spec expects it, and the installed command runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static void test_install_destdir_prefix(void **state)
{
    (void)state;
    char *dest = tu_scratch_dir("install");
    char cmd[8192];
    tu_run_result r;
    struct stat st;

    assert_non_null(dest);
    snprintf(cmd, sizeof(cmd),
             "make -s install DESTDIR='%s' PREFIX=/opt/gp SYSCONFDIR=/etc 2>&1", dest);
    assert_int_equal(tu_sh(&r, cmd), 0);
    if (r.status != 0)
        fail_msg("make install failed: %s", r.out);
    tu_run_free(&r);

    static const struct { const char *path; mode_t mode; } want[] = {
        { "/opt/gp/lib/libgpupool.so.0", 0755 },
        { "/opt/gp/lib/libgpupool.a", 0644 },
        { "/opt/gp/include/gpupool.h", 0644 },
        { "/opt/gp/bin/xe-gpupool", 0755 },
        { "/opt/gp/lib/pkgconfig/gpupool.pc", 0644 },
        { "/opt/gp/share/bash-completion/completions/xe-gpupool", 0644 },
        { "/etc/xapi.d/plugins/gpupool", 0755 },
        { "/etc/gpupool/gpupool.conf", 0644 },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char p[8192];
        snprintf(p, sizeof(p), "%s%s", dest, want[i].path);
        if (stat(p, &st) != 0)
            fail_msg("not installed: %s", want[i].path);
        assert_int_equal(st.st_mode & 0777, want[i].mode);
    }
    /* The development link points at the versioned library. */
    char p[8192], link[256];
    snprintf(p, sizeof(p), "%s/opt/gp/lib/libgpupool.so", dest);
    ssize_t n = readlink(p, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, "libgpupool.so.0");
    /* Nothing escaped DESTDIR into the real PREFIX. */
    assert_int_not_equal(stat("/opt/gp/bin/xe-gpupool", &st), 0);

    /* The installed command runs from its new place. */
    snprintf(cmd, sizeof(cmd), "'%s/opt/gp/bin/xe-gpupool' version", dest);
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "0.1.0"));
    tu_run_free(&r);

    /* A second install keeps an admin's configuration. */
    snprintf(p, sizeof(p), "%s/etc/gpupool/gpupool.conf", dest);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("db = /srv/gpupool.db\n", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "make -s install DESTDIR='%s' PREFIX=/opt/gp 2>&1", dest);
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    char *conf = tu_slurp(p);
    assert_string_equal(conf, "db = /srv/gpupool.db\n");
    free(conf);
    free(dest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_destdir_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
