;; The project's WebAssembly kernels: the loops that bound the cost of the paper's protocol on
;; the host. kernels.ts holds the assembled bytes; `test/wasm-kernels.test.ts` assembles this file
;; with wabt (threads and SIMD) and checks that they are the same.
;;
;; Every kernel performs the same float64 operations in the same order as the JavaScript loop it
;; replaced (wasm has no fused multiply-add and no reassociation; SIMD lanes are per element), so
;; the results are the same bits. All pointers are byte offsets into the imported memory.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; A_α += Σ_s n_sα x̃_s x̃_sᵀ (upper triangles) for K neurons of fan-in q, from the nonzero
  ;; entries of x̃ (the wide neuron statistics, quadratic/sparse-kernel.ts), into totals laid out
  ;; neuron-innermost: A[(i·q + j)·Kp + α], Kp = K rounded up to a multiple of 10 (the neurons
  ;; past K get zeros). The buffer's rows in CSR form and by column:
  ;;   idx    nnz   int32     column of each nonzero entry (ascending within a sample)
  ;;   val    nnz   float64   its value
  ;;   start  S+1   int32     sample s holds entries start[s] … start[s+1]−1
  ;;   n      S·K   float32   the neurons' weights (0 where the unit is inactive)
  ;;   colStart q+1 int32     column i is nonzero in entries colStart[i] … colStart[i+1]−1 of:
  ;;   colS, colE   int32     their sample s (ascending) and entry (an index into idx/val)
  ;;   wv     Kp    float64   scratch
  ;; Row by row of A (one row, q·Kp float64, stays in cache): for every sample s nonzero in column
  ;; i, wv_α = n_sα·x̃_si, then A[i, j, ·] += wv·x̃_sj for the sample's entries j ≥ i, five f64x2 at a
  ;; time. Each A entry gets (n·x̃_i)·x̃_j sample after sample, as the neuron-by-neuron loop it
  ;; replaced did; an inactive unit adds (0·x̃_i)·x̃_j = ±0, which leaves every total as it was.
  (func (export "addSparseRows")
    (param $A i32) (param $K i32) (param $Kp i32) (param $q i32)
    (param $idx i32) (param $val i32) (param $start i32) (param $n i32)
    (param $colStart i32) (param $colS i32) (param $colE i32) (param $wv i32)
    (local $r i32) (local $p i32) (local $pe i32) (local $s i32) (local $c i32) (local $e i32) (local $a i32)
    (local $row i32) (local $at i32) (local $Kp8 i32) (local $qKp8 i32) (local $nrow i32)
    (local $vi f64) (local $vc2 v128)
    (local.set $Kp8 (i32.shl (local.get $Kp) (i32.const 3)))
    (local.set $qKp8 (i32.mul (local.get $Kp8) (local.get $q)))
    ;; the padding neurons' weights: zero once
    (local.set $a (local.get $K))
    (block $zd (loop $zl
      (br_if $zd (i32.ge_u (local.get $a) (local.get $Kp)))
      (f64.store (i32.add (local.get $wv) (i32.shl (local.get $a) (i32.const 3))) (f64.const 0))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br $zl)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $q)))
      (local.set $row (i32.add (local.get $A) (i32.mul (local.get $r) (local.get $qKp8))))
      (local.set $p (i32.load (i32.add (local.get $colStart) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $pe (i32.load offset=4 (i32.add (local.get $colStart) (i32.shl (local.get $r) (i32.const 2)))))
      (block $samples_done (loop $samples
        (br_if $samples_done (i32.ge_u (local.get $p) (local.get $pe)))
        (local.set $s (i32.load (i32.add (local.get $colS) (i32.shl (local.get $p) (i32.const 2)))))
        (local.set $c (i32.load (i32.add (local.get $colE) (i32.shl (local.get $p) (i32.const 2)))))
        (local.set $e (i32.load offset=4 (i32.add (local.get $start) (i32.shl (local.get $s) (i32.const 2)))))
        (local.set $nrow (i32.add (local.get $n) (i32.shl (i32.mul (local.get $s) (local.get $K)) (i32.const 2))))
        (local.set $vi (f64.load (i32.add (local.get $val) (i32.shl (local.get $c) (i32.const 3)))))
        ;; wv_α = n_sα · x̃_si
        (local.set $a (i32.const 0))
        (block $w_done (loop $w
          (br_if $w_done (i32.ge_u (local.get $a) (local.get $K)))
          (f64.store (i32.add (local.get $wv) (i32.shl (local.get $a) (i32.const 3)))
            (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $nrow) (i32.shl (local.get $a) (i32.const 2))))) (local.get $vi)))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (br $w)))
        (block $cols_done (loop $cols
          (br_if $cols_done (i32.ge_u (local.get $c) (local.get $e)))
          ;; A[r, idx[c], ·] += wv · val[c]
          (local.set $at (i32.add (local.get $row)
            (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $c) (i32.const 2)))) (local.get $Kp8))))
          (local.set $vc2 (f64x2.splat (f64.load (i32.add (local.get $val) (i32.shl (local.get $c) (i32.const 3))))))
          (local.set $a (i32.const 0))
          (block $lanes_done (loop $lanes
            (br_if $lanes_done (i32.ge_u (local.get $a) (local.get $Kp8)))
            (v128.store offset=0 (i32.add (local.get $at) (local.get $a))
              (f64x2.add (v128.load offset=0 (i32.add (local.get $at) (local.get $a)))
                (f64x2.mul (v128.load offset=0 (i32.add (local.get $wv) (local.get $a))) (local.get $vc2))))
            (v128.store offset=16 (i32.add (local.get $at) (local.get $a))
              (f64x2.add (v128.load offset=16 (i32.add (local.get $at) (local.get $a)))
                (f64x2.mul (v128.load offset=16 (i32.add (local.get $wv) (local.get $a))) (local.get $vc2))))
            (v128.store offset=32 (i32.add (local.get $at) (local.get $a))
              (f64x2.add (v128.load offset=32 (i32.add (local.get $at) (local.get $a)))
                (f64x2.mul (v128.load offset=32 (i32.add (local.get $wv) (local.get $a))) (local.get $vc2))))
            (v128.store offset=48 (i32.add (local.get $at) (local.get $a))
              (f64x2.add (v128.load offset=48 (i32.add (local.get $at) (local.get $a)))
                (f64x2.mul (v128.load offset=48 (i32.add (local.get $wv) (local.get $a))) (local.get $vc2))))
            (v128.store offset=64 (i32.add (local.get $at) (local.get $a))
              (f64x2.add (v128.load offset=64 (i32.add (local.get $at) (local.get $a)))
                (f64x2.mul (v128.load offset=64 (i32.add (local.get $wv) (local.get $a))) (local.get $vc2))))
            (local.set $a (i32.add (local.get $a) (i32.const 80)))
            (br $lanes)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $cols)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $samples)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))

  ;; p[0..m) += A₂₂ v from the lower triangle of the trailing block A₂₂ = A[off.., off..] of the
  ;; n×n row-major A (symmetricEigen's Householder step; p zeroed by the caller). Row i gives
  ;; A[i][j]·v[j] to p[i] (summed in order) and A[i][j]·v[i] to p[j] (two lanes at a time).
  (func (export "symvLower") (param $A i32) (param $n i32) (param $off i32) (param $m i32) (param $v i32) (param $p i32)
    (local $i i32) (local $j i32) (local $row i32) (local $vi f64) (local $s f64) (local $a f64) (local $pj i32)
    (local $vi2 v128) (local $a2 v128) (local $prod v128)
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $i) (local.get $m)))
      (local.set $row (i32.add (local.get $A) (i32.shl (i32.add (i32.mul (i32.add (local.get $off) (local.get $i)) (local.get $n)) (local.get $off)) (i32.const 3))))
      (local.set $vi (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $vi2 (f64x2.splat (local.get $vi)))
      (local.set $s (f64.mul (f64.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))) (local.get $vi)))
      (local.set $j (i32.const 0))
      (block $pairs_done (loop $pairs
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $j) (i32.const 2)) (local.get $i)))
        (local.set $a2 (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $prod (f64x2.mul (local.get $a2) (v128.load (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 3))))))
        (local.set $s (f64.add (f64.add (local.get $s) (f64x2.extract_lane 0 (local.get $prod))) (f64x2.extract_lane 1 (local.get $prod))))
        (local.set $pj (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 3))))
        (v128.store (local.get $pj) (f64x2.add (v128.load (local.get $pj)) (f64x2.mul (local.get $a2) (local.get $vi2))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
      (if (i32.lt_u (local.get $j) (local.get $i)) (then
        (local.set $a (f64.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $a) (f64.load (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 3)))))))
        (local.set $pj (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 3))))
        (f64.store (local.get $pj) (f64.add (f64.load (local.get $pj)) (f64.mul (local.get $a) (local.get $vi))))))
      (local.set $pj (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
      (f64.store (local.get $pj) (f64.add (f64.load (local.get $pj)) (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))
;; A₂₂ ← A₂₂ − v pᵀ − p vᵀ on the lower triangle of the trailing block A₂₂ = A[off.., off..]
  ;; (symmetricEigen's rank-two update). Every element's operations are JavaScript's, in pairs.
  (func (export "syr2Lower") (param $A i32) (param $n i32) (param $off i32) (param $m i32) (param $v i32) (param $p i32)
    (local $i i32) (local $j i32) (local $row i32) (local $vi f64) (local $wi f64) (local $at i32) (local $vi2 v128) (local $wi2 v128)
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $i) (local.get $m)))
      (local.set $row (i32.add (local.get $A) (i32.shl (i32.add (i32.mul (i32.add (local.get $off) (local.get $i)) (local.get $n)) (local.get $off)) (i32.const 3))))
      (local.set $vi (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $wi (f64.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $vi2 (f64x2.splat (local.get $vi)))
      (local.set $wi2 (f64x2.splat (local.get $wi)))
      (local.set $j (i32.const 0))
      (block $pairs_done (loop $pairs
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $j) (i32.const 1)) (local.get $i)))
        (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))
        (v128.store (local.get $at) (f64x2.sub (v128.load (local.get $at))
          (f64x2.add (f64x2.mul (local.get $vi2) (v128.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 3)))))
                     (f64x2.mul (local.get $wi2) (v128.load (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 3))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
      (if (i32.le_u (local.get $j) (local.get $i)) (then
        (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))
        (f64.store (local.get $at) (f64.sub (f64.load (local.get $at))
          (f64.add (f64.mul (local.get $vi) (f64.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 3)))))
                   (f64.mul (local.get $wi) (f64.load (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 3))))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))

  ;; Σ xᵢyᵢ over n float64 (GLTR's Lanczos vectors) in four partial sums, lanes i mod 4 in two
  ;; f64x2 accumulators, joined as (s₀ + s₂) + (s₁ + s₃), then the last n mod 4 terms in order. Not
  ;; JavaScript's left-to-right sum (a different rounding): four independent chains run ~4× faster.
  (func (export "dot") (param $x i32) (param $y i32) (param $n i32) (result f64)
    (local $i i32) (local $lo v128) (local $hi v128) (local $s f64) (local $at i32)
    (block $quads_done (loop $quads
      (br_if $quads_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
      (local.set $at (i32.shl (local.get $i) (i32.const 3)))
      (local.set $lo (f64x2.add (local.get $lo) (f64x2.mul
        (v128.load (i32.add (local.get $x) (local.get $at))) (v128.load (i32.add (local.get $y) (local.get $at))))))
      (local.set $hi (f64x2.add (local.get $hi) (f64x2.mul
        (v128.load offset=16 (i32.add (local.get $x) (local.get $at))) (v128.load offset=16 (i32.add (local.get $y) (local.get $at))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $quads)))
    (local.set $lo (f64x2.add (local.get $lo) (local.get $hi)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $lo)) (f64x2.extract_lane 1 (local.get $lo))))
    (block $tail_done (loop $tail
      (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $at (i32.shl (local.get $i) (i32.const 3)))
      (local.set $s (f64.add (local.get $s) (f64.mul
        (f64.load (i32.add (local.get $x) (local.get $at))) (f64.load (i32.add (local.get $y) (local.get $at))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail)))
    (local.get $s))

  ;; y ← y + a·x over n float64, two lanes at a time (each element's operations as in JavaScript).
  (func (export "axpy") (param $y i32) (param $a f64) (param $x i32) (param $n i32)
    (local $i i32) (local $a2 v128) (local $at i32)
    (local.set $a2 (f64x2.splat (local.get $a)))
    (block $pairs_done (loop $pairs
      (br_if $pairs_done (i32.gt_u (i32.add (local.get $i) (i32.const 2)) (local.get $n)))
      (local.set $at (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))
      (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at))
        (f64x2.mul (local.get $a2) (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $pairs)))
    (if (i32.lt_u (local.get $i) (local.get $n)) (then
      (local.set $at (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))
      (f64.store (local.get $at) (f64.add (f64.load (local.get $at))
        (f64.mul (local.get $a) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))))))))
)
