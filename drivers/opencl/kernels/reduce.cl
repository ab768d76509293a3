// read_sum, pass 2: one work-item adds the groups' partials into the f64 output (a few hundred
// values: not worth a parallel tree). Needs cl_khr_fp64 for the f64 output; a device without it
// does not claim read_sum.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

__kernel void read_sum_finish_f64(__global const double* partials, const uint groups, __global double* out) {
  if (get_global_id(0) != 0) return;
  double s = 0;
  for (uint g = 0; g < groups; ++g) s += partials[g];
  out[0] = s;
}

__kernel void read_sum_finish_f32(__global const float* partials, const uint groups, __global double* out) {
  if (get_global_id(0) != 0) return;
  double s = 0;
  for (uint g = 0; g < groups; ++g) s += (double)partials[g];
  out[0] = s;
}
