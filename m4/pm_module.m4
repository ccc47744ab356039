dnl PM_MODULE(name, description, checks)
dnl One switch per module: --enable-NAME / --disable-NAME, "auto" by default
dnl (built when its checks pass).  `checks` runs only when the module is not
dnl disabled; on failure it sets pm_have=no and pm_why="reason".  Results:
dnl AM_CONDITIONAL BUILD_MOD_<NAME>, and a line in the configure summary.
AC_DEFUN([PM_MODULE], [
  AC_ARG_ENABLE([$1],
    AS_HELP_STRING([--enable-$1], [$2 (default: auto)]),
    [pm_enable=$enableval], [pm_enable=auto])
  pm_have=no
  pm_why="disabled by --disable-$1"
  if test "x$pm_enable" != xno; then
    pm_have=yes
    pm_why=""
    $3
    if test "x$pm_have" = xno && test "x$pm_enable" = xyes; then
      AC_MSG_ERROR([--enable-$1 was given but $1 cannot be built: $pm_why])
    fi
  fi
  AM_CONDITIONAL(m4_toupper([BUILD_MOD_$1]), [test "x$pm_have" = xyes])
  if test "x$pm_have" = xyes; then
    PM_SUMMARY="$PM_SUMMARY
    m4_format([%-14s], [$1]) yes"
  else
    PM_SUMMARY="$PM_SUMMARY
    m4_format([%-14s], [$1]) no   ($pm_why)"
  fi
])

dnl PM_NEED_PKG(pkg-config-module, VARPREFIX, human name)
dnl For use inside PM_MODULE checks.
AC_DEFUN([PM_NEED_PKG], [
  PKG_CHECK_MODULES([$2], [$1], [], [pm_have=no; pm_why="$3 not found (pkg-config $1)"])
])

dnl PM_NEED_LIB(lib, function, header, VARPREFIX, human name)
AC_DEFUN([PM_NEED_LIB], [
  pm_save_LIBS=$LIBS
  AC_CHECK_HEADER([$3], [
    AC_CHECK_LIB([$1], [$2], [$4_LIBS="-l$1"], [pm_have=no; pm_why="$5 library -l$1 not found"])
  ], [pm_have=no; pm_why="$5 header $3 not found"])
  LIBS=$pm_save_LIBS
  AC_SUBST([$4_LIBS])
])
