B=/work/target-cli/release/evoquant
$B plan tiny.toml --set "train=\$(touch P1)\`x\`; 'q' \"z\"
next" 2>&1 | head -4
echo rc=$?
$B plan tiny.toml --sweep 'threshold=[0.9, 0.95]' 2>&1 | head -3
