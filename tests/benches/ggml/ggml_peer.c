/* ggml's CPU matrix-vector kernel as the speed peer of Shoal's quantized GEMV.
 *
 * For each type (q8_0, q4_0) it quantizes a rows x cols Gaussian matrix with
 * ggml_quantize_chunk and times, single-threaded, what ggml's mul_mat does
 * for one vector: quantize x to the type's vec_dot_type (q8_0) with
 * from_float, then one vec_dot per row. Best of `reps` runs.
 * Prints one JSON object: {"q8_0": weights/s, "q4_0": weights/s, ...}.
 *
 * Usage: ggml_peer ROWS COLS [REPS]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ggml.h"
#include "ggml-cpu.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t state = 1;
static double uniform(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((state >> 11) + 0.5) / 9007199254740992.0;
}
static float normal(void) {
    return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ggml_peer ROWS COLS [REPS]\n");
        return 2;
    }
    const int64_t rows = atoll(argv[1]), cols = atoll(argv[2]);
    const int reps = argc > 3 ? atoi(argv[3]) : 5;
    ggml_cpu_init();
    float *w = malloc(sizeof(float) * rows * cols);
    float *x = malloc(sizeof(float) * cols);
    float *y = malloc(sizeof(float) * rows);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = normal() * 0.02f;
    for (int64_t i = 0; i < cols; i++) x[i] = normal();
    const enum ggml_type types[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
    printf("{");
    for (int t = 0; t < 2; t++) {
        const enum ggml_type ty = types[t];
        const struct ggml_type_traits_cpu *tr = ggml_get_type_traits_cpu(ty);
        const struct ggml_type_traits_cpu *xt = ggml_get_type_traits_cpu(tr->vec_dot_type);
        const size_t rs = ggml_row_size(ty, cols);
        char *q = malloc(rs * rows);
        char *xq = malloc(ggml_row_size(tr->vec_dot_type, cols));
        ggml_quantize_chunk(ty, w, q, 0, rows, cols, NULL);
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            const double t0 = now();
            xt->from_float(x, xq, cols);
            for (int64_t i = 0; i < rows; i++) tr->vec_dot(cols, &y[i], 0, q + i * rs, 0, xq, 0, 1);
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        /* A checksum keeps the work observable. */
        double s = 0;
        for (int64_t i = 0; i < rows; i++) s += y[i];
        printf("%s\"%s\": %.6e, \"%s_checksum\": %.3f", t ? ", " : "", ggml_type_name(ty),
               (double)(rows * cols) / best, ggml_type_name(ty), s);
        free(q);
        free(xq);
    }
    printf("}\n");
    return 0;
}
