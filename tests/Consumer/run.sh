#!/usr/bin/env bash
# Consumer test: packs every package of the suite into a folder feed, then builds an app outside the solution
# against that feed with an EMPTY NuGet cache (NUGET_PACKAGES = a fresh folder), trains a tiny TinyViM, saves,
# reloads and predicts; installs the excp tool from the feed and runs --help and verify.
# Usage: tests/Consumer/run.sh   (from anywhere; .ci/run calls it after the test suite)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
start=$(date +%s)
feed="$repo/artifacts/feed"
work=$(mktemp -d /tmp/mlnetext-consumer.XXXXXX)
trap '[ "${CONSUMER_KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
version=0.1.0-ci.$(date +%s)

# Already-downloaded packages (the user's cache, as nupkg files) serve as an extra read-only source, so CI does not
# download LibTorch again; the fresh cache below still extracts every package anew, unpatched.
user_cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
extra=()
[ -d "$user_cache" ] && extra=(-p:RestoreAdditionalProjectSources="$user_cache")

if [ "${CONSUMER_REUSE_FEED:-0}" = 1 ] && ls "$feed"/MLNetExtensions.Core.*.nupkg >/dev/null 2>&1; then
  # Development shortcut: reuse the packages of the last run.
  version=$(basename "$(ls "$feed"/MLNetExtensions.Core.*.nupkg | head -1)" .nupkg); version=${version#MLNetExtensions.Core.}
  echo "consumer: reusing the feed's $version"
else
echo "consumer: packing $version into $feed"
rm -rf "$feed"; mkdir -p "$feed"
for p in Core/MLNetExtensions.Core Transforms/MLNetExtensions.Transforms Evaluators/MLNetExtensions.Evaluators \
         Estimators/MLNetExtensions.Estimators Tools/ExcpCli/MLNetExtensions.ExcpCli; do
  dotnet pack "$repo/src/$p.csproj" -c Release -o "$feed" -p:Version="$version" -v:q -nologo
done
fi
ls -l "$feed"

export NUGET_PACKAGES="$work/nuget-cache"
mkdir -p "$NUGET_PACKAGES"
echo "consumer: restoring tests/Consumer with an empty NuGet cache ($NUGET_PACKAGES)"
dotnet build "$here/Consumer.csproj" -c Release -o "$work/app" -p:MLNetExtensionsVersion="$version" "${extra[@]}" \
  -v:q -nologo
dotnet "$work/app/Consumer.dll" "$work/out"

# The libstdc++ fix: on a system whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12) the app's copy is marked weak and
# the NuGet cache's copy is left as shipped; elsewhere neither is touched.
# (no "cmd | head" / "grep -q" at a pipe's end here: with pipefail a SIGPIPE upstream would fail the script)
cache_lib=$(find "$NUGET_PACKAGES/torchsharp" -name libLibTorchSharp.so -print -quit)
app_lib="$work/app/runtimes/linux-x64/native/libLibTorchSharp.so"
weak() { readelf -V "$1" > "$work/versions.txt"; grep -Eq "Name: GLIBCXX_3\.4\.32 +Flags: WEAK" "$work/versions.txt"; }
if weak "$cache_lib"; then echo "consumer: FAIL: the NuGet cache copy $cache_lib was patched"; exit 1; fi
libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !f {print $NF; f=1}')
if ! grep -q GLIBCXX_3.4.32 "$libstdcxx"; then
  weak "$app_lib" || { echo "consumer: FAIL: $app_lib not patched although $libstdcxx lacks GLIBCXX_3.4.32"; exit 1; }
  echo "consumer: $libstdcxx lacks GLIBCXX_3.4.32: output copy patched, NuGet cache copy untouched"
fi

echo "consumer: installing the excp tool from the feed"
dotnet tool install MLNetExtensions.Excp.Tool --version "$version" --tool-path "$work/tools" --add-source "$feed" >/dev/null
"$work/tools/excp" --help > "$work/help.txt"; head -3 "$work/help.txt"
"$work/tools/excp" verify "$work/out/checkpoints/excp"
set +e; "$work/tools/excp" inspect /nonexistent >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { echo "consumer: FAIL: excp inspect /nonexistent exited $rc, expected 1"; exit 1; }
echo "consumer: OK in $(( $(date +%s) - start )) s"
