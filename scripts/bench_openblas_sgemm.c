// OpenBLAS cblas_sgemm at the GEMM shapes of a MiniLM / bge-small layer step (BENCHMARKS.md, issue 10).
// apt-get install libopenblas-dev; gcc -O2 scripts/bench_openblas_sgemm.c -o /tmp/sg -lopenblas && flock /work/bench.lock /tmp/sg
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int shapes[][4]={{1280,384,384,0},{1280,1536,384,0},{1280,384,1536,0},{384,384,1280,1},{1536,384,1280,1},{4096,512,512,0},{4096,2048,512,0},{2048,2048,2048,0}};
  for(int s=0;s<8;s++){int m=shapes[s][0],n=shapes[s][1],k=shapes[s][2],ta=shapes[s][3];
    float*a=malloc(4L*m*k),*b=malloc(4L*k*n),*c=malloc(4L*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)k*n;i++)b[i]=(i%5)*0.1f;
    int reps=0;double t0=now(),t;
    do{ if(ta) cblas_sgemm(CblasRowMajor,CblasTrans,CblasNoTrans,m,n,k,1,a,m,b,n,0,c,n);
        else cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,m,n,k,1,a,k,b,k,0,c,n); reps++; t=now()-t0;}while(t<0.5);
    printf("openblas m=%d n=%d k=%d %s: %.1f GFLOP/s\n",m,n,k,ta?"AᵀB":"ABᵀ",2.0*m*n*k*reps/t/1e9);
    free(a);free(b);free(c);}
}
