;; One Dense layer for n rows with f32x4 SIMD: out = in . kernel + bias, relu fused on request.
;; Compiled at build time into runtime/model/dense-simd.wasm.ts by `npm run build:wasm`;
;; runtime/model/dense-forward.ts lays out the weights and calls `dense` once per layer.
;;
;; Layout (byte addresses, all chosen by the caller):
;;   kernel  inDim rows of `units` floats, row-major (units is padded to a multiple of 4 with zero columns)
;;   bias    `units` floats (zero-padded likewise)
;;   in      n rows, `inStride` floats apart; only the first inDim floats of a row are read
;;   out     n rows, `units` floats apart
;;   scratch inDim * 8 bytes the kernel may overwrite
;; Each row's non-zero inputs are first gathered, branch-free, into scratch as (value, kernel row
;; offset) pairs: the first layer's input is mostly one-hot zeros and a relu layer's output about
;; half zeros. Units are then done in blocks of 32, 16, then 4, with the block's sums held in v128
;; locals across the gathered inputs.
(module
  (memory (export "memory") 1)

  (func (export "dense")
    (param $in i32) (param $inStride i32) (param $inDim i32)
    (param $kernel i32) (param $bias i32) (param $units i32)
    (param $out i32) (param $n i32) (param $relu i32) (param $scratch i32)
    (local $r i32) (local $inRow i32) (local $inEnd i32) (local $outRow i32)
    (local $u i32) (local $kStride i32) (local $uBytes i32) (local $gathered i32)
    (local.set $kStride (i32.shl (local.get $units) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $inRow (i32.add (local.get $in) (i32.shl (i32.mul (local.get $r) (local.get $inStride)) (i32.const 2))))
        (local.set $inEnd (i32.add (local.get $inRow) (i32.shl (local.get $inDim) (i32.const 2))))
        (local.set $outRow (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $kStride))))
        (local.set $gathered (call $gather (local.get $inRow) (local.get $inEnd) (local.get $kStride) (local.get $scratch)))
        (local.set $u (i32.const 0))
        (block $wideDone
          (loop $wide
            (br_if $wideDone (i32.gt_u (i32.add (local.get $u) (i32.const 32)) (local.get $units)))
            (local.set $uBytes (i32.shl (local.get $u) (i32.const 2)))
            (call $block32
              (local.get $scratch) (local.get $gathered)
              (i32.add (local.get $kernel) (local.get $uBytes))
              (i32.add (local.get $bias) (local.get $uBytes))
              (i32.add (local.get $outRow) (local.get $uBytes))
              (local.get $relu))
            (local.set $u (i32.add (local.get $u) (i32.const 32)))
            (br $wide)))
        (if (i32.le_u (i32.add (local.get $u) (i32.const 16)) (local.get $units))
          (then
            (local.set $uBytes (i32.shl (local.get $u) (i32.const 2)))
            (call $block16
              (local.get $scratch) (local.get $gathered)
              (i32.add (local.get $kernel) (local.get $uBytes))
              (i32.add (local.get $bias) (local.get $uBytes))
              (i32.add (local.get $outRow) (local.get $uBytes))
              (local.get $relu))
            (local.set $u (i32.add (local.get $u) (i32.const 16)))))
        (block $narrowDone
          (loop $narrow
            (br_if $narrowDone (i32.ge_u (local.get $u) (local.get $units)))
            (local.set $uBytes (i32.shl (local.get $u) (i32.const 2)))
            (call $block4
              (local.get $scratch) (local.get $gathered)
              (i32.add (local.get $kernel) (local.get $uBytes))
              (i32.add (local.get $bias) (local.get $uBytes))
              (i32.add (local.get $outRow) (local.get $uBytes))
              (local.get $relu))
            (local.set $u (i32.add (local.get $u) (i32.const 4)))
            (br $narrow)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; Writes the non-zero inputs of [p, end) to `to` as (value f32, kernel row offset i32) pairs; returns
  ;; the end of what it wrote. Every input is written and the cursor advances only past non-zeros.
  (func $gather (param $p i32) (param $end i32) (param $kStride i32) (param $to i32) (result i32)
    (local $x f32) (local $kOffset i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (f32.load (local.get $p)))
        (f32.store (local.get $to) (local.get $x))
        (i32.store offset=4 (local.get $to) (local.get $kOffset))
        (local.set $to (i32.add (local.get $to) (i32.shl (f32.ne (local.get $x) (f32.const 0)) (i32.const 3))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $kOffset (i32.add (local.get $kOffset) (local.get $kStride)))
        (br $next)))
    (local.get $to))

  ;; 32 units of one row: 8 accumulators.
  (func $block32
    (param $p i32) (param $end i32) (param $kBase i32) (param $b i32) (param $o i32) (param $relu i32)
    (local $k i32) (local $xs v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $a0 (v128.load offset=0 (local.get $b)))
    (local.set $a1 (v128.load offset=16 (local.get $b)))
    (local.set $a2 (v128.load offset=32 (local.get $b)))
    (local.set $a3 (v128.load offset=48 (local.get $b)))
    (local.set $a4 (v128.load offset=64 (local.get $b)))
    (local.set $a5 (v128.load offset=80 (local.get $b)))
    (local.set $a6 (v128.load offset=96 (local.get $b)))
    (local.set $a7 (v128.load offset=112 (local.get $b)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $xs (f32x4.splat (f32.load (local.get $p))))
        (local.set $k (i32.add (local.get $kBase) (i32.load offset=4 (local.get $p))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xs) (v128.load offset=0 (local.get $k)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xs) (v128.load offset=16 (local.get $k)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xs) (v128.load offset=32 (local.get $k)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xs) (v128.load offset=48 (local.get $k)))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $xs) (v128.load offset=64 (local.get $k)))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $xs) (v128.load offset=80 (local.get $k)))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $xs) (v128.load offset=96 (local.get $k)))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $xs) (v128.load offset=112 (local.get $k)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $next)))
    ;; pmax(a, 0) is `a < 0 ? 0 : a`, the JS reference's relu (NaN stays NaN).
    (if (local.get $relu)
      (then
        (local.set $a0 (f32x4.pmax (local.get $a0) (v128.const f32x4 0 0 0 0)))
        (local.set $a1 (f32x4.pmax (local.get $a1) (v128.const f32x4 0 0 0 0)))
        (local.set $a2 (f32x4.pmax (local.get $a2) (v128.const f32x4 0 0 0 0)))
        (local.set $a3 (f32x4.pmax (local.get $a3) (v128.const f32x4 0 0 0 0)))
        (local.set $a4 (f32x4.pmax (local.get $a4) (v128.const f32x4 0 0 0 0)))
        (local.set $a5 (f32x4.pmax (local.get $a5) (v128.const f32x4 0 0 0 0)))
        (local.set $a6 (f32x4.pmax (local.get $a6) (v128.const f32x4 0 0 0 0)))
        (local.set $a7 (f32x4.pmax (local.get $a7) (v128.const f32x4 0 0 0 0)))))
    (v128.store offset=0 (local.get $o) (local.get $a0))
    (v128.store offset=16 (local.get $o) (local.get $a1))
    (v128.store offset=32 (local.get $o) (local.get $a2))
    (v128.store offset=48 (local.get $o) (local.get $a3))
    (v128.store offset=64 (local.get $o) (local.get $a4))
    (v128.store offset=80 (local.get $o) (local.get $a5))
    (v128.store offset=96 (local.get $o) (local.get $a6))
    (v128.store offset=112 (local.get $o) (local.get $a7)))

  ;; 16 units of one row: 4 accumulators.
  (func $block16
    (param $p i32) (param $end i32) (param $kBase i32) (param $b i32) (param $o i32) (param $relu i32)
    (local $k i32) (local $xs v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $a0 (v128.load offset=0 (local.get $b)))
    (local.set $a1 (v128.load offset=16 (local.get $b)))
    (local.set $a2 (v128.load offset=32 (local.get $b)))
    (local.set $a3 (v128.load offset=48 (local.get $b)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $xs (f32x4.splat (f32.load (local.get $p))))
        (local.set $k (i32.add (local.get $kBase) (i32.load offset=4 (local.get $p))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xs) (v128.load offset=0 (local.get $k)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xs) (v128.load offset=16 (local.get $k)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xs) (v128.load offset=32 (local.get $k)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xs) (v128.load offset=48 (local.get $k)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $next)))
    (if (local.get $relu)
      (then
        (local.set $a0 (f32x4.pmax (local.get $a0) (v128.const f32x4 0 0 0 0)))
        (local.set $a1 (f32x4.pmax (local.get $a1) (v128.const f32x4 0 0 0 0)))
        (local.set $a2 (f32x4.pmax (local.get $a2) (v128.const f32x4 0 0 0 0)))
        (local.set $a3 (f32x4.pmax (local.get $a3) (v128.const f32x4 0 0 0 0)))))
    (v128.store offset=0 (local.get $o) (local.get $a0))
    (v128.store offset=16 (local.get $o) (local.get $a1))
    (v128.store offset=32 (local.get $o) (local.get $a2))
    (v128.store offset=48 (local.get $o) (local.get $a3)))

  ;; 4 units of one row: 1 accumulator.
  (func $block4
    (param $p i32) (param $end i32) (param $kBase i32) (param $b i32) (param $o i32) (param $relu i32)
    (local $k i32) (local $a v128)
    (local.set $a (v128.load (local.get $b)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $k (i32.add (local.get $kBase) (i32.load offset=4 (local.get $p))))
        (local.set $a (f32x4.add (local.get $a) (f32x4.mul (f32x4.splat (f32.load (local.get $p))) (v128.load (local.get $k)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $next)))
    (if (local.get $relu)
      (then (local.set $a (f32x4.pmax (local.get $a) (v128.const f32x4 0 0 0 0)))))
    (v128.store (local.get $o) (local.get $a))))
