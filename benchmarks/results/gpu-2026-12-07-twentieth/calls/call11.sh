#!/usr/bin/env bash
# Twentieth session, call 11 (issue 12): the CRNN's dynamic width through an optimization profile on the GPU. The zoo's
# CRNN exported from PyTorch with a symbolic width (scripts/export-families.py, no timing), ONNX Runtime references at
# widths 64, 100, 160 and 256 (scripts/ort-shapes.py), one GPU engine per precision built with the profile
# image 1x1x32x64 .. 1x1x32x100 .. 1x1x32x256, run at each width against the references, and a width outside the profile.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
work=/tmp/crnn-work; rm -rf "$work"; mkdir -p "$work"
timeout 150 python3 "$here/peers/export-families.py" --out "$work/fam" --models crnn --no-time > "$out/export.txt" 2>&1
echo "export exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^FAMILY" "$out/export.txt" | head -3
m="$work/fam/crnn/model.onnx"
widths="1x1x32x64 1x1x32x100 1x1x32x160 1x1x32x256"
python3 "$here/peers/ort-shapes.py" refs "$m" "$work/w" image $widths 2>&1 | tee -a "$out/refs.txt"
for prec in fp32 fp16; do
  s=$(date +%s); eng="$work/crnn-$prec.tessel"
  flags=(); [[ $prec == fp16 ]] && flags=(--fp16)
  timeout 150 "${java[@]}" org.tessel.cli.Tessel build "$m" --min-shapes image:1x1x32x64 --opt-shapes image:1x1x32x100 --max-shapes image:1x1x32x256 "${flags[@]}" --save-engine "$eng" > "$out/build-$prec.txt" 2>&1
  echo "build $prec exit $? after $(( $(date +%s) - s )) s: $(grep -E '^engine:|^tessel' "$out/build-$prec.txt" | head -2 | cut -c1-200 | tr '\n' ' ')"
  [[ -f $eng ]] || continue
  for w in $widths; do
    rm -rf "$work/w/$w/tessel"
    timeout 60 "${java[@]}" org.tessel.cli.Tessel run "$eng" --shapes image:$w --inputs "$work/w/$w/test_data_set_0" --save-outputs "$work/w/$w/tessel" --iterations 50 --warmup 5 > "$work/run.txt" 2>&1
    rc=$?; cat "$work/run.txt" >> "$out/run-$prec.txt"
    echo "  $prec $w exit $rc: $(grep -oE 'p50_ms=[0-9.]+' "$work/run.txt") $(python3 "$here/peers/ort-shapes.py" compare "$work/w/$w") $(grep -E '^tessel' "$work/run.txt" | head -1 | cut -c1-200)"
  done
  timeout 60 "${java[@]}" org.tessel.cli.Tessel run "$eng" --shapes image:1x1x32x300 --iterations 5 --warmup 1 > "$work/run.txt" 2>&1
  echo "  $prec 1x1x32x300 (outside the profile) exit $?: $(grep -E '^tessel' "$work/run.txt" | head -1 | cut -c1-300)"
done
echo "call total $(( $(date +%s) - t0 )) s"
