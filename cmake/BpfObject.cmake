# flywall_bpf_program(NAME SOURCE)
#   Compiles SOURCE with clang -target bpf (-Wall -Werror, CO-RE against vmlinux.h generated
#   from the running kernel's BTF), runs `bpftool gen skeleton`, and adds:
#     - target  bpf_<NAME>          : builds ${CMAKE_BINARY_DIR}/bpf/<NAME>.bpf.o and <NAME>.skel.h
#   and appends the skeleton target to the global list used by `flywall_skeletons`.
# The object is embedded in the binary by the skeleton; nothing is loaded from a path at run time.

find_program(BPF_CLANG NAMES clang-19 clang-16 clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch OUTPUT_VARIABLE FW_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)

set(FW_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${FW_BPF_OUT})
set(FW_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "BTF used to generate vmlinux.h")

# Called once from the directory that declares the programs (custom command outputs are
# directory-scoped with Makefile generators).
macro(flywall_bpf_vmlinux)
add_custom_command(
  OUTPUT ${FW_BPF_OUT}/vmlinux.h
  COMMAND sh -c "${BPFTOOL} btf dump file ${FW_VMLINUX_BTF} format c > ${FW_BPF_OUT}/vmlinux.h.tmp"
  COMMAND ${CMAKE_COMMAND} -E rename ${FW_BPF_OUT}/vmlinux.h.tmp ${FW_BPF_OUT}/vmlinux.h
  COMMENT "Generating vmlinux.h from ${FW_VMLINUX_BTF}"
  VERBATIM)
add_custom_target(bpf_vmlinux DEPENDS ${FW_BPF_OUT}/vmlinux.h)
endmacro()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(FW_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(FW_BPF_ARCH arm64)
else()
  set(FW_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# The one set of BPF compile flags. `./flywall.sh ebpf-dev` reads them from bpf/build.env, so a
# hand compile uses exactly what the build uses (one build path).
set(FW_BPF_CFLAGS -g -O2 -target bpf -D__TARGET_ARCH_${FW_BPF_ARCH} -Wall -Werror -Wno-unused-function
    -I${FW_BPF_OUT} -I${CMAKE_SOURCE_DIR}/bpf/include -I${CMAKE_SOURCE_DIR}/bpf/lib)
string(JOIN " " FW_BPF_CFLAGS_TEXT ${FW_BPF_CFLAGS})
file(WRITE ${FW_BPF_OUT}/build.env "CLANG='${BPF_CLANG}'\nBPFTOOL='${BPFTOOL}'\nBPF_CFLAGS='${FW_BPF_CFLAGS_TEXT}'\n")

set_property(GLOBAL PROPERTY FW_BPF_TARGETS "")

function(flywall_bpf_program name src)
  set(obj ${FW_BPF_OUT}/${name}.bpf.o)
  set(skel ${FW_BPF_OUT}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} ${FW_BPF_CFLAGS}
            -MD -MF ${obj}.d
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src}
    DEPFILE ${obj}.d
    COMMENT "BPF ${name}: clang -target bpf"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "BPF ${name}: bpftool gen skeleton"
    VERBATIM)
  add_custom_target(bpf_${name} DEPENDS ${skel})
  add_dependencies(bpf_${name} bpf_vmlinux)
  set_property(GLOBAL APPEND PROPERTY FW_BPF_TARGETS bpf_${name})
endfunction()
